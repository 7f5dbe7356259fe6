{#-
  One row per PagerDuty service: the catalog's service for its id; else the service whose name equals its own
  (case-insensitively); else a service of its own name (incidents, no deployments).
-#}
with pagerduty_services as (
    select pagerduty_service_id, max(service_name) as service_name
    from (
        select pagerduty_service_id, service_name from {{ ref('stg_pagerduty__services') }}
        union all
        select pagerduty_service_id, pagerduty_service_name from {{ ref('stg_pagerduty__incidents') }}
    ) as both_sources
    where pagerduty_service_id is not null
    group by 1
),

catalog as (
    select pagerduty_service_id, max(service) as service
    from {{ ref('stg_service_catalog') }}
    where pagerduty_service_id is not null
    group by 1
),

known_services as (
    select service, max(team) as team
    from (
        select service, team from {{ ref('stg_service_catalog') }}
        union all
        select service, team from {{ ref('int_repository_services') }}
    ) as named
    group by 1
),

mapped as (
    select
        pagerduty_services.pagerduty_service_id,
        pagerduty_services.service_name,
        coalesce(catalog.service, known_services.service, lower(trim(pagerduty_services.service_name)))
            as service,
        case
            when catalog.service is not null then 'catalog'
            when known_services.service is not null then 'name'
        end as mapped_by
    from pagerduty_services
    left join catalog on catalog.pagerduty_service_id = pagerduty_services.pagerduty_service_id
    left join known_services on known_services.service = lower(trim(pagerduty_services.service_name))
),

final as (
    select mapped.pagerduty_service_id, mapped.service_name, mapped.service, known_services.team, mapped.mapped_by
    from mapped
    left join known_services on known_services.service = mapped.service
)

select * from final
