with source as (
    select * from {{ raw_source('github', 'pull_request_reviews') }}
),

renamed as (
    select
        _scope as repository,
        cast(_parent_id as integer) as pull_request_number,
        cast({{ json_str('payload', 'id') }} as {{ type_text() }}) as review_id,
        {{ json_str('payload', 'state') }} as state,
        {{ json_str('payload', 'user.login') }} as reviewer_login,
        {{ json_str('payload', 'user.type') }} as reviewer_type,
        {{ json_str('payload', 'commit_id') }} as commit_sha,
        {{ to_utc(json_str('payload', 'submitted_at')) }} as submitted_at
    from source
)

select * from renamed
