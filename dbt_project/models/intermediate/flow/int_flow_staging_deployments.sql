{#-
  One row per successful deployment to a staging environment (var staging_environment_pattern, matched
  case-insensitively, and not a production environment), numbered per repository by deployed_at.
  deployed_at is the first `success` status.
-#}
with staging as (
    select * from {{ ref('int_flow_deployment_creators') }} where environment_stage = 'staging'
),

first_success as (
    select repository, deployment_id, min(created_at) as deployed_at
    from {{ ref('stg_github__deployment_statuses') }}
    where state = 'success'
    group by 1, 2
)

select
    staging.repository,
    staging.deployment_id,
    staging.environment,
    staging.commit_sha,
    first_success.deployed_at,
    row_number() over (
        partition by staging.repository order by first_success.deployed_at, staging.created_at, staging.deployment_id
    ) as deployment_sequence
from staging
inner join first_success
    on first_success.repository = staging.repository
    and first_success.deployment_id = staging.deployment_id
