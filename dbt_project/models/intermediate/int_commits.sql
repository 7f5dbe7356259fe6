{#- One row per known commit of a repository, from the default-branch list, PR commits and compare results. -#}
with all_commits as (
    select repository, lower(commit_sha) as commit_sha, authored_at, author_email, message, parent_shas,
           1 as priority
    from {{ ref('stg_github__commits') }}
    union all
    select repository, lower(commit_sha), authored_at, author_email, message, parent_shas, 2
    from {{ ref('stg_github__pull_request_commits') }}
    union all
    select repository, lower(commit_sha), authored_at, author_email, message, parent_shas, 3
    from {{ ref('stg_github__comparison_commits') }}
),

ranked as (
    select
        all_commits.*,
        row_number() over (partition by repository, commit_sha order by priority) as rank_in_sources
    from all_commits
    where commit_sha is not null
)

select repository, commit_sha, authored_at, author_email, message, lower(parent_shas) as parent_shas
from ranked
where rank_in_sources = 1
