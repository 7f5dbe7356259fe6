with source as (
    select * from {{ raw_source('github', 'pull_request_sizes') }}
),

renamed as (
    select
        _scope as repository,
        cast(_parent_id as integer) as pull_request_number,
        cast({{ json_str('payload', 'additions') }} as integer) as additions,
        cast({{ json_str('payload', 'deletions') }} as integer) as deletions,
        cast({{ json_str('payload', 'changed_files') }} as integer) as changed_files
    from source
)

select * from renamed
