{#-
  One row per (successful production deployment, commit its walk reaches): the deployed sha, its ancestors
  through `parents` (commit graph), and the commits of a compare whose head is the deployed sha.
  The walk does not go past the sha of an earlier successful deployment of the same repository and service
  (a monorepo's services walk separately): everything behind it was reached by that deployment's own walk already. This keeps the cost near one pass over the history instead
  of one per deployment, and leaves "first deployment reaching a commit" exact (see int_deployment_change_sets).
-#}
with recursive deployments as (
    select repository, service, deployment_id, commit_sha, service_sequence as deployment_sequence
    from {{ ref('int_successful_deployments') }}
),

first_deployed as (
    select repository, service, commit_sha, min(deployment_sequence) as first_sequence
    from deployments
    group by 1, 2, 3
),

reachable as (
    select repository, service, deployment_id, deployment_sequence, commit_sha
    from deployments
    union
    select reachable.repository, reachable.service, reachable.deployment_id, reachable.deployment_sequence,
           parents.parent_sha
    from reachable
    inner join {{ ref('int_commit_parents') }} as parents
        on parents.repository = reachable.repository
        and parents.commit_sha = reachable.commit_sha
    left join first_deployed
        on first_deployed.repository = reachable.repository
        and first_deployed.service = reachable.service
        and first_deployed.commit_sha = reachable.commit_sha
    where first_deployed.first_sequence is null
        or first_deployed.first_sequence >= reachable.deployment_sequence
),

compared as (
    select deployments.repository, deployments.deployment_id, lower(compare_commits.commit_sha) as commit_sha
    from deployments
    inner join {{ ref('stg_github__comparison_commits') }} as compare_commits
        on compare_commits.repository = deployments.repository
        and lower(compare_commits.head_ref) = deployments.commit_sha
)

select repository, deployment_id, commit_sha from reachable
union
select repository, deployment_id, commit_sha from compared
