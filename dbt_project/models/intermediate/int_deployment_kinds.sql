{#-
  One row per successful production deployment: seed (first of its repository), redeploy (same sha as the
  previous one) or rollback (its sha is a proper ancestor of the previous deployment's sha: reachable from it
  through `parents`, or a compare previous...this answered status 'behind').
-#}
with deployments as (
    select * from {{ ref('int_successful_deployments') }}
),

behind_compares as (
    select distinct repository, lower(base_ref) as base_sha, lower(head_ref) as head_sha
    from {{ ref('stg_github__comparisons') }}
    where status = 'behind'
),

ancestry as (
    select
        deployments.deployment_id,
        max(case when reachable.commit_sha is not null then 1 else 0 end) as reachable_from_previous,
        max(case when behind_compares.head_sha is not null then 1 else 0 end) as behind_previous
    from deployments
    left join {{ ref('int_deployment_reachable_commits') }} as reachable
        on reachable.repository = deployments.repository
        and reachable.deployment_id = deployments.previous_deployment_id
        and reachable.commit_sha = deployments.commit_sha
    left join behind_compares
        on behind_compares.repository = deployments.repository
        and behind_compares.base_sha = deployments.previous_commit_sha
        and behind_compares.head_sha = deployments.commit_sha
    group by 1
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
        and (ancestry.reachable_from_previous = 1 or ancestry.behind_previous = 1) as is_rollback
    from deployments
    inner join ancestry on ancestry.deployment_id = deployments.deployment_id
)

select * from final
