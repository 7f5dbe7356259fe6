{#-
  One row per release that shipped changes (fct_deployments.deployment_kind = 'release', change_count > 0: the
  first successful production deployment of a sha in its repository and service; rollout steps, redeploys,
  rollbacks and seeds ship nothing new). The one place that decides "which deployment shipped a change" for the
  flow marts.
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
where deployment_kind = 'release'
    and change_count > 0
