{#-
  One row per GitHub deployment (every environment): its stage ('production': a production deployment of
  int_deployments, the one production rule (pattern, GitHub's flag, a monorepo service's pattern), with its
  service; 'staging' by var staging_environment_pattern; else 'other') and whether a bot or a CI app created it (automated) or a person did (manual).
  Automated: creator.type 'Bot', or created through a GitHub App (performed_via_github_app), or a creator login
  matching var deployment_bot_login_pattern (service accounts used by CI, e.g. 'deploy-bot'). NULL when the
  payload names no creator (not counted either way).
-#}
with deployments as (
    select * from {{ ref('stg_github__deployments') }}
),

production as (
    select repository, deployment_id, service from {{ ref('int_deployments') }}
)

select
    deployments.repository,
    deployments.deployment_id,
    production.service as production_service,
    environment,
    lower(commit_sha) as commit_sha,
    created_at,
    creator_login,
    case
        when production.deployment_id is not null then 'production'
        when {{ regex_match('environment', sql_string(var('staging_environment_pattern')), case_insensitive=true) }}
            then 'staging'
        else 'other'
    end as environment_stage,
    case
        when creator_login is null and created_via_app_slug is null then null
        else coalesce(creator_type = 'Bot', false)
            or created_via_app_slug is not null
            or {{ regex_match('creator_login', sql_string(var('deployment_bot_login_pattern')), case_insensitive=true) }}
    end as is_automated
from deployments
left join production
    on production.repository = deployments.repository
    and production.deployment_id = deployments.deployment_id
