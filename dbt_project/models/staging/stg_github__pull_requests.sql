with source as (
    select * from {{ raw_source('github', 'pull_requests') }}
),

renamed as (
    select
        _scope as repository,
        cast({{ json_str('payload', 'id') }} as {{ type_text() }}) as pull_request_id,
        cast({{ json_str('payload', 'number') }} as integer) as pull_request_number,
        {{ json_str('payload', 'title') }} as title,
        {{ json_str('payload', 'user.login') }} as author_login,
        {{ json_str('payload', 'user.type') }} as author_type,
        coalesce({{ json_str('payload', 'draft') }} = 'true', false) as is_draft,
        {{ json_str('payload', 'head.sha') }} as head_sha,
        cast({{ json_str('payload', 'additions') }} as integer) as additions,
        cast({{ json_str('payload', 'deletions') }} as integer) as deletions,
        {{ json_str('payload', 'state') }} as state,
        {{ json_str('payload', 'head.ref') }} as head_branch,
        {{ json_str('payload', 'base.ref') }} as base_branch,
        {{ json_array_join('payload', 'labels', 'name') }} as label_names,
        {{ json_str('payload', 'merge_commit_sha') }} as merge_commit_sha,
        {{ to_utc(json_str('payload', 'created_at')) }} as created_at,
        {{ to_utc(json_str('payload', 'merged_at')) }} as merged_at,
        {{ to_utc(json_str('payload', 'closed_at')) }} as closed_at,
        {{ json_str('payload', 'merged_at') }} is not null as is_merged,
        _extracted_at
    from source
)

select * from renamed
