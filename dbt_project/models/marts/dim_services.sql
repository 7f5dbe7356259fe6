with repository_services as (
    select * from {{ ref('int_repository_services') }}
),

pagerduty_services as (
    select * from {{ ref('int_pagerduty_services') }}
),

catalog as (
    select service, max(team) as team, max(jira_project_key) as jira_project_key
    from {{ ref('stg_service_catalog') }}
    group by 1
),

services as (
    select service from repository_services
    union
    select service from pagerduty_services
    union
    select service from catalog
    union
    select service from {{ ref('int_deployments') }}  -- 'unmapped': a monorepo deployment no entry routes
),

repositories as (
    select service, {{ dbt.listagg('repository', "','", 'order by repository') }} as github_repository,
           max(team) as team
    from repository_services
    group by 1
),

pagerduty as (
    select service,
           {{ dbt.listagg('pagerduty_service_id', "','", 'order by pagerduty_service_id') }} as pagerduty_service_id,
           max(team) as team
    from pagerduty_services
    group by 1
),

deployed as (
    select distinct service from {{ ref('int_deployments') }} where outcome = 'success'
),

incident_services as (
    select distinct service from {{ ref('int_incidents') }}
),

final as (
    select
        services.service,
        coalesce(catalog.team, repositories.team, pagerduty.team) as team,
        repositories.github_repository,
        pagerduty.pagerduty_service_id,
        catalog.jira_project_key,
        deployed.service is not null as has_deployments,
        incident_services.service is not null as has_incidents
    from services
    left join catalog on catalog.service = services.service
    left join repositories on repositories.service = services.service
    left join pagerduty on pagerduty.service = services.service
    left join deployed on deployed.service = services.service
    left join incident_services on incident_services.service = services.service
    where services.service is not null
)

select service, team, github_repository, pagerduty_service_id, jira_project_key, has_deployments, has_incidents
from final
