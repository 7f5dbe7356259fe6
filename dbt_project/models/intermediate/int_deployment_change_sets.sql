{#-
  One row per (release, commit of its change set). A commit belongs to the first release (first successful
  production deployment of a sha, see int_deployment_kinds) of its repository that reaches it (so after a
  rollback, commits deployed once more keep their first release); commits first reached by the repository's seed
  belong to no change set. Rollout steps, redeploys and rollbacks ship no change. This equals "reachable from the
  release, not from the previous one, minus commits already shipped".
-#}
with reach as (
    select
        reachable.repository,
        reachable.commit_sha,
        deployments.deployment_id,
        deployments.deployed_at,
        kinds.is_seed,
        row_number() over (
            partition by reachable.repository, reachable.commit_sha
            order by deployments.deployed_at, deployments.created_at, deployments.deployment_id
        ) as reach_order
    from {{ ref('int_deployment_reachable_commits') }} as reachable
    inner join {{ ref('int_successful_deployments') }} as deployments
        on deployments.repository = reachable.repository
        and deployments.deployment_id = reachable.deployment_id
    inner join {{ ref('int_deployment_kinds') }} as kinds
        on kinds.deployment_id = deployments.deployment_id
        and kinds.deployment_kind in ('seed', 'release')
)

select repository, deployment_id, deployed_at, commit_sha
from reach
where reach_order = 1 and not is_seed
