-- Jira work done this quarter per project and work type (Flow Framework): items done (flow velocity, summed over the
-- quarter's months) and their share of the project's items (flow distribution over the quarter, from the counts,
-- not an average of the monthly shares). Work types with nothing done are left out.
with months as (
    select *
    from marts.flow_framework_metrics
    where period_grain = 'month'
        and period_start >= cast(date_trunc('quarter', current_date) as date)
        and project_key <> 'all'
        and work_type <> 'all'
),

by_type as (
    select
        project_key,
        work_type,
        sum(flow_velocity) as items_done
    from months
    group by project_key, work_type
),

final as (
    select
        project_key,
        work_type,
        items_done,
        cast(items_done as double precision) / sum(items_done) over (partition by project_key) as distribution
    from by_type
    where items_done > 0
)

select * from final
order by project_key, items_done desc, work_type
