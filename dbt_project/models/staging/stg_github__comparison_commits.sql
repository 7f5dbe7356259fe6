with source as (
    select * from {{ raw_source('github', 'comparison_commits') }}
),

renamed as (
    select
        _scope as repository,
        _parent_id as comparison,
        split_part(_parent_id, '...', 1) as base_ref,
        split_part(_parent_id, '...', 2) as head_ref,
        {{ json_str('payload', 'sha') }} as commit_sha,
        {{ to_utc(json_str('payload', 'commit.author.date')) }} as authored_at,
        lower({{ json_str('payload', 'commit.author.email') }}) as author_email,
        {{ json_str('payload', 'commit.message') }} as message,
        {{ json_array_join('payload', 'parents', 'sha') }} as parent_shas,
        {#- `files`: fetched by the extractor from GET commits/{sha} only for repositories whose catalog entries
            have path_prefixes (docs/architecture.md); NULL = not fetched. Paths joined with '|'. -#}
        case when {{ json_str('payload', 'files') }} is not null
            then {{ json_array_join('payload', 'files', 'filename', sep='|') }} end as changed_files
    from source
)

select * from renamed
