-- The organisation's DORA figures week by week over the last 12 complete weeks (weeks start on Monday),
-- with the tiers computed by the marts. Replace 'all' by a service name for one service.
select
    period_start as week_start,
    deployments,
    deployment_frequency_per_day,
    lead_time_median_minutes,
    change_failure_rate,
    time_to_restore_median_minutes,
    rework_rate
from marts.dora_metrics
where period_grain = 'week'
    and service = 'all'
    and period_start >= date_trunc('week', current_date) - interval '84 days'
    and period_start < date_trunc('week', current_date)
order by week_start
