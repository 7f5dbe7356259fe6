{#-
  One row per (successful production deployment, commit of its change set). A commit belongs to the first
  successful production deployment of its repository that reaches it (so after a rollback, commits deployed once
  more keep their first deployment); commits first reached by the repository's seed deployment belong to no
  change set. This equals "reachable from D, not from the previous deployment, minus commits already shipped".
-#}
with reach as (
    select
        reachable.repository,
        reachable.commit_sha,
        deployments.deployment_id,
        deployments.deployed_at,
        deployments.is_seed,
        row_number() over (
            partition by reachable.repository, reachable.commit_sha
            order by deployments.deployed_at, deployments.created_at, deployments.deployment_id
        ) as reach_order
    from {{ ref('int_deployment_reachable_commits') }} as reachable
    inner join (
        select *, deployment_sequence = 1 as is_seed from {{ ref('int_successful_deployments') }}
    ) as deployments
        on deployments.repository = reachable.repository
        and deployments.deployment_id = reachable.deployment_id
)

select repository, deployment_id, deployed_at, commit_sha
from reach
where reach_order = 1 and not is_seed
