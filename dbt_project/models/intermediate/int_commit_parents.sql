{#- One row per (commit, parent) edge of the commit graph. -#}
with edges as (
    select repository, commit_sha, {{ split_to_rows('parent_shas', ',') }} as parent_sha
    from {{ ref('int_commits') }}
    where parent_shas <> ''
)

select distinct repository, commit_sha, parent_sha
from edges
where parent_sha is not null and parent_sha <> ''
