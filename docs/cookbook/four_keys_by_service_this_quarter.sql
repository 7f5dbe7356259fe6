-- The four keys per service since the start of this quarter, from the fact tables (medians over the whole
-- quarter, not averages of monthly medians). Deployment frequency is per calendar day elapsed this quarter.
with deployments as (
    select
        service,
        count(*) filter (where outcome = 'success') as deployments,
        count(*) filter (where outcome = 'failure') as failed_attempts,
        count(*) filter (where outcome = 'success' and is_change_failure) as change_failures
    from marts.fct_deployments
    where coalesce(deployed_at, finished_at) >= date_trunc('quarter', current_date)
    group by service
),

lead_times as (
    select
        service,
        percentile_cont(0.5) within group (order by lead_time_minutes) as lead_time_median_minutes
    from marts.fct_changes
    where deployed_at >= date_trunc('quarter', current_date)
    group by service
),

restores as (
    select
        service,
        percentile_cont(0.5) within group (order by time_to_restore_minutes) as time_to_restore_median_minutes
    from marts.fct_incidents
    where resolved_at >= date_trunc('quarter', current_date)
    group by service
),

final as (
    select
        deployments.service,
        deployments.deployments,
        round(
            cast(deployments.deployments as numeric)
            / (current_date - cast(date_trunc('quarter', current_date) as date) + 1),
            3
        ) as deployments_per_day,
        lead_times.lead_time_median_minutes,
        deployments.change_failures,
        round(
            cast(deployments.change_failures as numeric) / nullif(deployments.deployments, 0), 3
        ) as change_failure_rate,
        restores.time_to_restore_median_minutes,
        deployments.failed_attempts
    from deployments
    left join lead_times on lead_times.service = deployments.service
    left join restores on restores.service = deployments.service
)

select * from final
order by service
