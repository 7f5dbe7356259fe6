{#-
  One row per (repository, commit, changed file path) for the commits whose files were fetched (repositories
  with path_prefixes in the service catalog); a fetched commit that changes no file has one row with a NULL path,
  so "files known" is "has a row here".
-#}
with fetched as (
    select distinct repository, lower(commit_sha) as commit_sha, changed_files
    from {{ ref('stg_github__comparison_commits') }}
    where changed_files is not null
),

paths as (
    select repository, commit_sha, {{ split_to_rows('changed_files', '|') }} as file_path
    from fetched
    where changed_files <> ''
)

select distinct repository, commit_sha, file_path from paths
union all
select distinct repository, commit_sha, cast(null as {{ type_text() }}) as file_path
from fetched
where changed_files = ''
