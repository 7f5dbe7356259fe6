with source as (
    select * from {{ raw_source('github', 'releases') }}
),

renamed as (
    select
        _scope as repository,
        cast({{ json_str('payload', 'id') }} as {{ type_text() }}) as release_id,
        {{ json_str('payload', 'tag_name') }} as tag_name,
        {{ json_str('payload', 'target_commitish') }} as target_commitish,
        {{ json_str('payload', 'name') }} as release_name,
        {{ json_str('payload', 'draft') }} = 'true' as is_draft,
        {{ json_str('payload', 'prerelease') }} = 'true' as is_prerelease,
        {{ to_utc(json_str('payload', 'created_at')) }} as created_at,
        {{ to_utc(json_str('payload', 'published_at')) }} as published_at
    from source
)

select * from renamed
