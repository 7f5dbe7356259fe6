{#- One row per GitHub repository: its service (catalog entry, else the name after '/') and team, lowercased. -#}
with repositories as (
    select distinct repository from {{ ref('stg_github__deployments') }}
    union
    select distinct repository from {{ ref('stg_github__pull_requests') }}
    union
    select distinct repository from {{ ref('stg_github__commits') }}
),

catalog as (
    select github_repository, max(service) as service
    from {{ ref('stg_service_catalog') }}
    where github_repository is not null
    group by 1
),

service_teams as (
    select service, max(team) as team
    from {{ ref('stg_service_catalog') }}
    group by 1
),

final as (
    select
        repositories.repository,
        coalesce(catalog.service, lower(split_part(repositories.repository, '/', 2))) as service,
        service_teams.team,
        catalog.service is not null as is_in_catalog
    from repositories
    left join catalog on catalog.github_repository = lower(repositories.repository)
    left join service_teams
        on service_teams.service = coalesce(catalog.service, lower(split_part(repositories.repository, '/', 2)))
    where repositories.repository is not null
)

select * from final
