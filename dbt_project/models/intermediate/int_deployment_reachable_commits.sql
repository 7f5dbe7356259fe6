{#-
  One row per (successful production deployment, commit reachable from its sha): the deployed sha itself, its
  ancestors through `parents` (commit graph), and the commits of a compare whose head is the deployed sha.
-#}
with recursive reachable as (
    select repository, deployment_id, commit_sha
    from {{ ref('int_successful_deployments') }}
    union
    select reachable.repository, reachable.deployment_id, parents.parent_sha
    from reachable
    inner join {{ ref('int_commit_parents') }} as parents
        on parents.repository = reachable.repository
        and parents.commit_sha = reachable.commit_sha
),

compared as (
    select deployments.repository, deployments.deployment_id, lower(compare_commits.commit_sha) as commit_sha
    from {{ ref('int_successful_deployments') }} as deployments
    inner join {{ ref('stg_github__comparison_commits') }} as compare_commits
        on compare_commits.repository = deployments.repository
        and lower(compare_commits.head_ref) = deployments.commit_sha
)

select repository, deployment_id, commit_sha from reachable
union
select repository, deployment_id, commit_sha from compared
