{#-
  One row per period_grain x period_start x Jira project x work type, with 'all' for every project and for every
  work type (docs/metrics.md, "Jira flow"). Dense over every period from the first to the last day holding a
  work item's creation or completion. Items done are bucketed by done_at; the load is counted at the period's end.
-#}
with recursive items as (
    select * from {{ ref('int_flow_work_items') }}
),

dimensioned as (
    select project_key as dimension_project, work_type as dimension_work_type, items.* from items
    union all
    select 'all', work_type, items.* from items
    union all
    select project_key, 'all', items.* from items
    union all
    select 'all', 'all', items.* from items
),

day_range as (
    select
        min(cast({{ to_reporting_tz('created_at') }} as date)) as first_day,
        max(cast({{ to_reporting_tz('coalesce(done_at, created_at)') }} as date)) as last_day
    from items
),

{{ days_and_periods_ctes() }},

bounded_periods as (
    select
        period_grain,
        period_start,
        cast(cast({{ period_end_of_grain('period_grain', 'period_start') }} as date) as timestamp) as period_end
    from periods
),

dimensions as (
    select distinct dimension_project, dimension_work_type from dimensioned
),

dense as (
    select bounded_periods.*, dimensions.dimension_project, dimensions.dimension_work_type
    from bounded_periods
    cross join dimensions
),

{#- Items done, bucketed by their done day (no join); the load by a pure range join of period ends and items. -#}
done_bucketed as (
    select
        grains.period_grain,
        {{ period_start_of_grain('grains.period_grain', to_reporting_tz('dimensioned.done_at')) }} as period_start,
        dimensioned.*
    from dimensioned
    cross join (select 'day' as period_grain union all select 'week' union all select 'month') as grains
    where dimensioned.done_at is not null
),

done as (
    select
        period_grain,
        period_start,
        dimension_project,
        dimension_work_type,
        count(*) as items_done,
        {{ percentiles('flow_time_minutes', mean=false) }},
        avg(flow_time_ms) / 60000.0 as flow_time_mean_minutes,
        {#- sums of whole milliseconds: the ratio is the same double on both targets -#}
        sum(case when flow_time_ms is not null then active_ms end) as active_ms,
        sum(case when active_ms is not null then flow_time_ms end) as flow_ms
    from done_bucketed
    group by 1, 2, 3, 4
),

in_progress_at_period_end as (
    select bounded_periods.period_grain, bounded_periods.period_start, items.project_key, items.work_type
    from bounded_periods
    inner join (
        select
            project_key,
            work_type,
            {{ to_reporting_tz('started_at') }} as local_started_at,
            coalesce({{ to_reporting_tz('done_at') }}, cast('9999-12-31' as timestamp)) as local_open_until
        from items
        where started_at is not null
    ) as items
        on items.local_started_at < bounded_periods.period_end
        and items.local_open_until >= bounded_periods.period_end
),

load as (
    select period_grain, period_start, project_key as dimension_project, work_type as dimension_work_type,
           count(*) as items_in_progress
    from in_progress_at_period_end group by 1, 2, 3, 4
    union all
    select period_grain, period_start, 'all', work_type, count(*) from in_progress_at_period_end group by 1, 2, 3, 4
    union all
    select period_grain, period_start, project_key, 'all', count(*) from in_progress_at_period_end group by 1, 2, 3, 4
    union all
    select period_grain, period_start, 'all', 'all', count(*) from in_progress_at_period_end group by 1, 2, 3, 4
),

joined as (
    select
        dense.period_grain,
        dense.period_start,
        dense.dimension_project as project_key,
        dense.dimension_work_type as work_type,
        coalesce(done.items_done, 0) as flow_velocity,
        done.flow_time_median_minutes,
        done.flow_time_p90_minutes,
        done.flow_time_mean_minutes,
        coalesce(load.items_in_progress, 0) as flow_load,
        cast(done.active_ms as double precision) / nullif(done.flow_ms, 0) as flow_efficiency
    from dense
    left join done
        on done.period_grain = dense.period_grain
        and done.period_start = dense.period_start
        and done.dimension_project = dense.dimension_project
        and done.dimension_work_type = dense.dimension_work_type
    left join load
        on load.period_grain = dense.period_grain
        and load.period_start = dense.period_start
        and load.dimension_project = dense.dimension_project
        and load.dimension_work_type = dense.dimension_work_type
),

final as (
    select
        joined.*,
        cast(joined.flow_velocity as double precision)
            / nullif(all_types.flow_velocity, 0) as flow_distribution
    from joined
    inner join joined as all_types
        on all_types.period_grain = joined.period_grain
        and all_types.period_start = joined.period_start
        and all_types.project_key = joined.project_key
        and all_types.work_type = 'all'
)

select
    period_grain,
    period_start,
    project_key,
    work_type,
    teams.team,
    cast(flow_velocity as integer) as flow_velocity,
    cast(flow_time_median_minutes as double precision) as flow_time_median_minutes,
    cast(flow_time_p90_minutes as double precision) as flow_time_p90_minutes,
    cast(flow_time_mean_minutes as double precision) as flow_time_mean_minutes,
    cast(flow_load as integer) as flow_load,
    cast(flow_efficiency as double precision) as flow_efficiency,
    cast(flow_distribution as double precision) as flow_distribution
from final
left join (
    select distinct project_key as team_project_key, team from {{ ref('int_flow_work_items') }} where team is not null
) as teams on teams.team_project_key = final.project_key
