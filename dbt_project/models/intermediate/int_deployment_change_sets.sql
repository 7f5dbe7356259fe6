{#-
  One row per (release, commit of its change set). A commit belongs to the first release (first successful
  production deployment of a sha, see int_deployment_kinds) of its repository and service that reaches it (so after
  a rollback, commits deployed once more keep their first release); commits first reached by the service's seed
  belong to no change set. Rollout steps, redeploys and rollbacks ship no change. This equals "reachable from the
  release, not from the previous one, minus commits already shipped".
  Monorepos (docs/metrics.md, "Service catalog and monorepos"): a service with path_prefixes keeps only the
  commits that change a file under one of them (a commit whose files were not fetched is kept: it cannot be
  excluded on evidence). A commit shipped by two services is a change of each; is_first_shipment marks the row of
  the repository's first release that shipped it, the one repository-level ('all') figures count.
-#}
with reach as (
    select
        reachable.repository,
        deployments.service,
        reachable.commit_sha,
        deployments.deployment_id,
        deployments.deployed_at,
        deployments.created_at,
        kinds.is_seed,
        row_number() over (
            partition by reachable.repository, deployments.service, reachable.commit_sha
            order by deployments.deployed_at, deployments.created_at, deployments.deployment_id
        ) as reach_order
    from {{ ref('int_deployment_reachable_commits') }} as reachable
    inner join {{ ref('int_successful_deployments') }} as deployments
        on deployments.repository = reachable.repository
        and deployments.deployment_id = reachable.deployment_id
    inner join {{ ref('int_deployment_kinds') }} as kinds
        on kinds.deployment_id = deployments.deployment_id
        and kinds.deployment_kind in ('seed', 'release')
),

shipped as (
    select * from reach where reach_order = 1 and not is_seed
),

service_paths as (
    select repository, service, path_prefix
    from (
        select repository, service, {{ split_to_rows('path_prefixes', ';') }} as path_prefix
        from {{ ref('int_repository_services') }}
        where path_prefixes is not null
    ) as prefixes
    where path_prefix <> ''
),

files_known as (
    select distinct repository, commit_sha from {{ ref('int_commit_files') }}
),

touching as (
    select distinct shipped.repository, shipped.service, shipped.commit_sha
    from shipped
    inner join service_paths
        on service_paths.repository = shipped.repository and service_paths.service = shipped.service
    inner join {{ ref('int_commit_files') }} as files
        on files.repository = shipped.repository
        and files.commit_sha = shipped.commit_sha
        and left(files.file_path, length(service_paths.path_prefix)) = service_paths.path_prefix
),

kept as (
    select shipped.*
    from shipped
    left join (select distinct repository, service from service_paths) as path_services
        on path_services.repository = shipped.repository and path_services.service = shipped.service
    left join files_known
        on files_known.repository = shipped.repository and files_known.commit_sha = shipped.commit_sha
    left join touching
        on touching.repository = shipped.repository
        and touching.service = shipped.service
        and touching.commit_sha = shipped.commit_sha
    where path_services.service is null or files_known.commit_sha is null or touching.commit_sha is not null
)

select
    repository,
    service,
    deployment_id,
    deployed_at,
    commit_sha,
    row_number() over (
        partition by repository, commit_sha order by deployed_at, created_at, deployment_id
    ) = 1 as is_first_shipment
from kept
