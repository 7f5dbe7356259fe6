{#- One row per (commit, parent) edge of the commit graph. The graph walks (recursive CTEs) look edges up by
    commit once per step: on PostgreSQL that needs the index, or each step scans every edge (DuckDB needs none). -#}
{{ config(indexes=[{'columns': ['repository', 'commit_sha']}] if target.type == 'postgres' else []) }}
with edges as (
    select repository, commit_sha, {{ split_to_rows('parent_shas', ',') }} as parent_sha
    from {{ ref('int_commits') }}
    where parent_shas <> ''
)

select distinct repository, commit_sha, parent_sha
from edges
where parent_sha is not null and parent_sha <> ''
