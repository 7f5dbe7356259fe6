{#-
  One row per successful production deployment with its deployment_kind and release_id. "Previous" is the previous
  successful deployment of the same (repository, environment); releases are per (repository, service).
  - seed: the first successful production deployment of its repository and service (int_successful_deployments);
  - redeploy: the same sha as the previous one, or a sha this environment already ran;
  - rollback: its sha is a proper ancestor of the previous deployment's sha (reachable from it through `parents`,
    or a compare previous...this answered status 'behind');
  - rollout_step: a sha another production environment already received (its release's later region, slot...);
  - release: the first successful production deployment of a sha (its release_id is its own id).
  release_id: the release (or seed) that first deployed the sha; NULL for a rollback to a sha never released.
  Only deployments whose sha an earlier deployment already reached can be rollbacks; for those few, the full
  ancestry of the previous deployment's sha is walked.
-#}
with recursive deployments as (
    select * from {{ ref('int_successful_deployments') }}
),

already_reached as (
    select distinct deployments.deployment_id
    from deployments
    inner join {{ ref('int_deployment_reachable_commits') }} as reachable
        on reachable.repository = deployments.repository
        and reachable.commit_sha = deployments.commit_sha
    inner join deployments as earlier
        on earlier.deployment_id = reachable.deployment_id
        and earlier.repository = deployments.repository
        and earlier.service = deployments.service
        and earlier.service_sequence < deployments.service_sequence
),

candidates as (
    select deployments.repository, deployments.deployment_id, deployments.commit_sha,
           deployments.previous_commit_sha
    from deployments
    inner join already_reached on already_reached.deployment_id = deployments.deployment_id
    where deployments.service_sequence > 1 and deployments.commit_sha <> deployments.previous_commit_sha
),

ancestors as (
    select repository, deployment_id, previous_commit_sha as commit_sha
    from candidates
    union
    select ancestors.repository, ancestors.deployment_id, parents.parent_sha
    from ancestors
    inner join {{ ref('int_commit_parents') }} as parents
        on parents.repository = ancestors.repository
        and parents.commit_sha = ancestors.commit_sha
),

graph_rollbacks as (
    select distinct candidates.deployment_id
    from candidates
    inner join ancestors
        on ancestors.deployment_id = candidates.deployment_id
        and ancestors.commit_sha = candidates.commit_sha
),

behind_compares as (
    select distinct repository, lower(base_ref) as base_sha, lower(head_ref) as head_sha
    from {{ ref('stg_github__comparisons') }}
    where status = 'behind'
),

compare_rollbacks as (
    select distinct deployments.deployment_id
    from deployments
    inner join behind_compares
        on behind_compares.repository = deployments.repository
        and behind_compares.base_sha = deployments.previous_commit_sha
        and behind_compares.head_sha = deployments.commit_sha
),

first_deployments as (
    select
        deployments.*,
        row_number() over (
            partition by repository, service, commit_sha order by deployed_at, created_at, deployment_id
        ) as sha_order,
        row_number() over (
            partition by repository, environment_key, commit_sha order by deployed_at, created_at, deployment_id
        ) as environment_sha_order
    from deployments
),

classified as (
    select
        first_deployments.deployment_id,
        first_deployments.repository,
        first_deployments.service,
        first_deployments.commit_sha,
        case
            when first_deployments.service_sequence = 1 then 'seed'
            when first_deployments.commit_sha = first_deployments.previous_commit_sha then 'redeploy'
            when graph_rollbacks.deployment_id is not null or compare_rollbacks.deployment_id is not null
                then 'rollback'
            when first_deployments.environment_sha_order > 1 then 'redeploy'
            when first_deployments.sha_order > 1 then 'rollout_step'
            else 'release'
        end as deployment_kind,
        first_deployments.sha_order
    from first_deployments
    left join graph_rollbacks on graph_rollbacks.deployment_id = first_deployments.deployment_id
    left join compare_rollbacks on compare_rollbacks.deployment_id = first_deployments.deployment_id
),

releases as (
    select repository, service, commit_sha, deployment_id as release_id
    from classified
    where sha_order = 1 and deployment_kind in ('seed', 'release')
),

final as (
    select
        classified.deployment_id,
        classified.repository,
        classified.deployment_kind,
        releases.release_id,
        classified.deployment_kind = 'seed' as is_seed,
        classified.deployment_kind = 'redeploy' as is_redeploy,
        classified.deployment_kind = 'rollback' as is_rollback
    from classified
    left join releases
        on releases.repository = classified.repository
        and releases.commit_sha = classified.commit_sha
        and coalesce(releases.service, '') = coalesce(classified.service, '')
)

select * from final
