{#-
  One row per (successful staging deployment, commit its sha contains): the deployed sha and its ancestors
  through the commit graph. Like int_deployment_reachable_commits, the walk stops at the sha of an earlier
  staging deployment of the repository (everything behind it was reached by that one), so the first staging
  deployment reaching a commit is exact and the cost stays near one pass over the history.
-#}
with recursive deployments as (
    select repository, deployment_id, commit_sha, deployment_sequence
    from {{ ref('int_flow_staging_deployments') }}
),

first_staged as (
    select repository, commit_sha, min(deployment_sequence) as first_sequence
    from deployments
    group by 1, 2
),

reachable as (
    select repository, deployment_id, deployment_sequence, commit_sha
    from deployments
    union
    select reachable.repository, reachable.deployment_id, reachable.deployment_sequence, parents.parent_sha
    from reachable
    inner join {{ ref('int_commit_parents') }} as parents
        on parents.repository = reachable.repository
        and parents.commit_sha = reachable.commit_sha
    left join first_staged
        on first_staged.repository = reachable.repository
        and first_staged.commit_sha = reachable.commit_sha
    where first_staged.first_sequence is null
        or first_staged.first_sequence >= reachable.deployment_sequence
)

select distinct repository, deployment_id, commit_sha from reachable
