{#- The compared refs come from the request URL (`.../compare/<base>...<head>`): the payload has no head field. -#}
with source as (
    select * from {{ raw_source('github', 'comparisons') }}
),

renamed as (
    select
        _scope as repository,
        split_part({{ json_str('payload', 'url') }}, '/compare/', 2) as comparison,
        split_part(split_part({{ json_str('payload', 'url') }}, '/compare/', 2), '...', 1) as base_ref,
        split_part(split_part({{ json_str('payload', 'url') }}, '/compare/', 2), '...', 2) as head_ref,
        {{ json_str('payload', 'base_commit.sha') }} as base_sha,
        {{ json_str('payload', 'merge_base_commit.sha') }} as merge_base_sha,
        {{ json_str('payload', 'status') }} as status,
        cast({{ json_str('payload', 'ahead_by') }} as integer) as ahead_by,
        cast({{ json_str('payload', 'behind_by') }} as integer) as behind_by
    from source
)

select * from renamed
