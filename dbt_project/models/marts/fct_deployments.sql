with deployments as (
    select * from {{ ref('int_deployments') }}
),

failures as (
    select * from {{ ref('int_deployment_failures') }}
),

lead_times as (
    select
        deployment_id,
        count(*) as change_count,
        {{ percentile_cont('case when not is_negative_lead_time then lead_time_minutes end', 0.5) }}
            as lead_time_median_minutes
    from {{ ref('int_changes') }}
    group by 1
),

final as (
    select
        cast(deployments.deployment_id as {{ type_text() }}) as deployment_id,
        deployments.repository,
        deployments.service,
        deployments.team,
        deployments.environment,
        deployments.commit_sha,
        deployments.created_at,
        deployments.deployed_at,
        deployments.finished_at,
        deployments.outcome,
        coalesce(failures.is_seed, false) as is_seed,
        coalesce(failures.is_rollback, false) as is_rollback,
        coalesce(failures.is_change_failure, false) as is_change_failure,
        failures.failure_evidence,
        coalesce(failures.is_rework, false) as is_rework,
        cast(coalesce(lead_times.change_count, 0) as integer) as change_count,
        cast(coalesce(failures.incident_count, 0) as integer) as incident_count,
        cast(lead_times.lead_time_median_minutes as double precision) as lead_time_median_minutes,
        failures.recovered_at,
        cast(failures.recovery_minutes as double precision) as failed_deployment_recovery_minutes,
        {#- Minimal form (issue #10 item 1 refines it with rollout steps and redeploys). -#}
        cast(case
            when coalesce(failures.is_seed, false) then 'seed'
            when coalesce(failures.is_rollback, false) then 'rollback'
            when coalesce(failures.is_redeploy, false) then 'redeploy'
            else 'release'
        end as {{ type_text() }}) as deployment_kind
    from deployments
    left join failures on failures.deployment_id = deployments.deployment_id
    left join lead_times on lead_times.deployment_id = deployments.deployment_id
)

select
    deployment_id, repository, service, team, environment, commit_sha, created_at, deployed_at, finished_at,
    outcome, is_seed, is_rollback, is_change_failure, failure_evidence, is_rework, change_count, incident_count,
    lead_time_median_minutes, recovered_at, failed_deployment_recovery_minutes, deployment_kind
from final
