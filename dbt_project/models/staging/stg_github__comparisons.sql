{#-
  The compared refs: the raw row's parent id `base...head` (as the extractor requested it), else the request URL
  (`.../compare/<base>...<head>`); the payload itself has no head field.
-#}
with source as (
    select * from {{ raw_source('github', 'comparisons') }}
),

with_pair as (
    select
        source.*,
        coalesce(_parent_id, split_part({{ json_str('payload', 'url') }}, '/compare/', 2)) as comparison
    from source
),

renamed as (
    select
        _scope as repository,
        comparison,
        split_part(comparison, '...', 1) as base_ref,
        split_part(comparison, '...', 2) as head_ref,
        {{ json_str('payload', 'base_commit.sha') }} as base_sha,
        {{ json_str('payload', 'merge_base_commit.sha') }} as merge_base_sha,
        {{ json_str('payload', 'status') }} as status,
        cast({{ json_str('payload', 'ahead_by') }} as integer) as ahead_by,
        cast({{ json_str('payload', 'behind_by') }} as integer) as behind_by
    from with_pair
)

select * from renamed
