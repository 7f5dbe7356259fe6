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
        {{ percentile_cont('lead_time_minutes', 0.5) }} as lead_time_median_minutes
    from {{ ref('int_changes') }}
    where not is_duplicate_change
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
        cast(failures.release_id as {{ type_text() }}) as release_id,
        cast(failures.deployment_kind as {{ type_text() }}) as deployment_kind,
        coalesce(
            deployments.deployed_at > reporting_window.now_at
                - {{ var('incident_attribution_window_hours') }} * interval '1 hour',
            false
        ) as is_evidence_window_open,
        cast(failures.rework_evidence as {{ type_text() }}) as rework_evidence
    from deployments
    left join failures on failures.deployment_id = deployments.deployment_id
    cross join {{ ref('int_reporting_window') }} as reporting_window
    left join lead_times on lead_times.deployment_id = deployments.deployment_id
)

select
    deployment_id, repository, service, team, environment, commit_sha, created_at, deployed_at, finished_at,
    outcome, is_seed, is_rollback, is_change_failure, failure_evidence, is_rework, change_count, incident_count,
    lead_time_median_minutes, recovered_at, failed_deployment_recovery_minutes, release_id, deployment_kind,
    is_evidence_window_open, rework_evidence
from final
