{#-
  Production: the environment matches production_environment_pattern (case-insensitively), or GitHub marks the
  deployment `production_environment: true` (unless use_github_production_flag is false).
  One row per production deployment with a terminal outcome. Success: it has a `success` status
  (deployed_at = the first one). Failed attempt: no `success` but a `failure` or `error` status
  (finished_at = the first such status, deployed_at NULL). Pending/queued/in-progress only: not a row.
  Service: the repository's catalog entry whose environment_pattern matches the environment (case-insensitively;
  the first in catalog order when several do), else its entry without pattern, else 'unmapped'.
-#}
with deployments as (
    select *
    from {{ ref('stg_github__deployments') }}
    where {{ regex_match('environment', sql_string(var('production_environment_pattern')), case_insensitive=true) }}
    {%- if var('use_github_production_flag') | string | lower in ('true', '1', 'yes') %}
        or coalesce(is_production_environment, false)
    {%- endif %}
),

statuses as (
    select
        repository,
        deployment_id,
        min(case when state = 'success' then created_at end) as first_success_at,
        min(case when state in ('failure', 'error') then created_at end) as first_failure_at
    from {{ ref('stg_github__deployment_statuses') }}
    group by 1, 2
),

routes as (
    select
        deployments.deployment_id,
        services.service,
        services.team,
        row_number() over (
            partition by deployments.deployment_id
            order by case when services.environment_pattern is null then 1 else 0 end, services.route_order
        ) as route_rank
    from deployments
    inner join {{ ref('int_repository_services') }} as services
        on services.repository = deployments.repository
        and (
            services.environment_pattern is null
            or {{ regex_match('deployments.environment', 'services.environment_pattern', case_insensitive=true) }}
        )
),

joined as (
    select
        deployments.deployment_id,
        deployments.repository,
        coalesce(routes.service, 'unmapped') as service,
        routes.team,
        deployments.environment,
        lower(deployments.commit_sha) as commit_sha,
        deployments.created_at,
        statuses.first_success_at as deployed_at,
        coalesce(statuses.first_success_at, statuses.first_failure_at) as finished_at,
        case when statuses.first_success_at is not null then 'success' else 'failure' end as outcome
    from deployments
    inner join statuses
        on statuses.repository = deployments.repository
        and statuses.deployment_id = deployments.deployment_id
    left join routes on routes.deployment_id = deployments.deployment_id and routes.route_rank = 1
    where statuses.first_success_at is not null or statuses.first_failure_at is not null
)

select * from joined
