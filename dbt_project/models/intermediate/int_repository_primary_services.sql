{#-
  One row per repository: the service that repository-level objects count for when nothing routes them to one
  of a monorepo's services (pull requests, CI runs, staging deployments): the repository's catalog entry without
  an environment pattern, else its first entry in catalog order. Outside monorepos, the repository's only service.
-#}
with ranked as (
    select
        repository,
        service,
        team,
        row_number() over (
            partition by repository
            order by case when environment_pattern is null then 0 else 1 end, route_order, service
        ) as preference
    from {{ ref('int_repository_services') }}
)

select repository, service, team
from ranked
where preference = 1
