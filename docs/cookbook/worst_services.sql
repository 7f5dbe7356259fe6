-- Services ranked from worst to best this quarter: by change failure rate, then by median time to restore.
-- Services with fewer than 2 successful deployments are left out (a rate of 1 deployment says little).
with deployments as (
    select
        service,
        count(*) as deployments,
        count(*) filter (where is_change_failure) as change_failures
    from marts.fct_deployments
    where outcome = 'success'
        and deployed_at >= date_trunc('quarter', current_date)
    group by service
),

restores as (
    select
        service,
        count(*) as incidents_resolved,
        percentile_cont(0.5) within group (order by time_to_restore_minutes) as time_to_restore_median_minutes
    from marts.fct_incidents
    where resolved_at >= date_trunc('quarter', current_date)
    group by service
),

final as (
    select
        deployments.service,
        deployments.deployments,
        deployments.change_failures,
        cast(deployments.change_failures as double precision) / deployments.deployments as change_failure_rate,
        coalesce(restores.incidents_resolved, 0) as incidents_resolved,
        restores.time_to_restore_median_minutes
    from deployments
    left join restores on restores.service = deployments.service
    where deployments.deployments >= 2
)

select * from final
order by change_failure_rate desc, time_to_restore_median_minutes desc nulls last, service
