{#-
  One row per release: a successful production deployment that shipped changes (not a seed, not a rollback,
  change_count > 0). THE ONE PLACE that decides "which deployment shipped a change" for the flow marts: when
  fct_deployments gains deployment_kind = 'release' / release_id (issue #10), switch the filter below to
  `deployment_kind = 'release'` and every flow mart follows.
-#}
with deployments as (
    select * from {{ ref('fct_deployments') }}
)

select
    deployment_id,
    repository,
    service,
    team,
    environment,
    commit_sha,
    created_at,
    deployed_at,
    change_count
from deployments
where outcome = 'success'
    and not is_seed
    and not is_rollback
    and change_count > 0
