{#-
  One row per (GitHub repository, service): the catalog's entries of the repository, else one row with the name
  after '/' as service. A monorepo has several rows: environment_pattern says which production environments are
  the service's (NULL: the repository's fallback service), path_prefixes which files (NULL: all).
  int_deployments picks a deployment's service: the first matching pattern in catalog order, else the fallback,
  else 'unmapped' (docs/metrics.md, "Service catalog and monorepos").
-#}
with repositories as (
    select distinct repository from {{ ref('stg_github__deployments') }}
    union
    select distinct repository from {{ ref('stg_github__pull_requests') }}
    union
    select distinct repository from {{ ref('stg_github__commits') }}
),

catalog as (
    select github_repository, service, environment_pattern, path_prefixes, catalog_order
    from {{ ref('stg_service_catalog') }}
    where github_repository is not null
),

service_teams as (
    select service, max(team) as team
    from {{ ref('stg_service_catalog') }}
    group by 1
),

routes as (
    select
        repositories.repository,
        coalesce(catalog.service, lower(split_part(repositories.repository, '/', 2))) as service,
        catalog.environment_pattern,
        catalog.path_prefixes,
        catalog.catalog_order as route_order,
        catalog.service is not null as is_in_catalog
    from repositories
    left join catalog on catalog.github_repository = lower(repositories.repository)
    where repositories.repository is not null
),

final as (
    select
        routes.repository,
        routes.service,
        service_teams.team,
        routes.environment_pattern,
        routes.path_prefixes,
        routes.route_order,
        routes.is_in_catalog
    from routes
    left join service_teams on service_teams.service = routes.service
)

select * from final
