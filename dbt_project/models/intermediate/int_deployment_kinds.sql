{#-
  One row per successful production deployment: seed (first of its repository), redeploy (same sha as the
  previous one) or rollback (its sha is a proper ancestor of the previous deployment's sha: reachable from it
  through `parents`, or a compare previous...this answered status 'behind').
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
        and earlier.deployment_sequence < deployments.deployment_sequence
),

candidates as (
    select deployments.repository, deployments.deployment_id, deployments.commit_sha,
           deployments.previous_commit_sha
    from deployments
    inner join already_reached on already_reached.deployment_id = deployments.deployment_id
    where deployments.deployment_sequence > 1 and deployments.commit_sha <> deployments.previous_commit_sha
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

final as (
    select
        deployments.deployment_id,
        deployments.repository,
        deployments.deployment_sequence = 1 as is_seed,
        deployments.deployment_sequence > 1 and deployments.commit_sha = deployments.previous_commit_sha
            as is_redeploy,
        deployments.deployment_sequence > 1
        and deployments.commit_sha <> deployments.previous_commit_sha
        and (graph_rollbacks.deployment_id is not null or compare_rollbacks.deployment_id is not null)
            as is_rollback
    from deployments
    left join graph_rollbacks on graph_rollbacks.deployment_id = deployments.deployment_id
    left join compare_rollbacks on compare_rollbacks.deployment_id = deployments.deployment_id
)

select * from final
