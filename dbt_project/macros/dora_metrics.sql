{#-
  The body of dora_metrics (dimension 'service') and dora_metrics_by_team (dimension 'team').
  Grain: one row per period_grain ('day', 'week', 'month'), period_start and dimension value, where 'all' means
  every value. Dense: every period between the first and the last period holding any data, for every value.
  Deployments, changes, lead times, change failures, rework and recovery are bucketed by deployed_at, failed
  attempts by finished_at, restored incidents by resolved_at, on the reporting time zone's calendar.
-#}
{% macro dora_metrics_sql(dimension) %}
{%- set dimension_expr = "coalesce(team, 'unassigned')" if dimension == 'team' else 'service' -%}
with deployments as (
    select * from {{ ref('fct_deployments') }}
),

events as (
    select
        {{ dimension_expr }} as dimension_value,
        {{ to_reporting_tz('deployed_at') }} as local_at,
        'deployment' as kind,
        case when is_change_failure then 1 else 0 end as is_change_failure,
        case when is_rework then 1 else 0 end as is_rework,
        case when is_change_failure then failed_deployment_recovery_minutes end as recovery_minutes,
        cast(null as double precision) as lead_time_minutes,
        cast(null as double precision) as time_to_restore_minutes,
        0 as is_open
    from deployments
    where outcome = 'success'
    union all
    select
        {{ dimension_expr }}, {{ to_reporting_tz('finished_at') }}, 'failed_attempt', 0, 0,
        cast(null as double precision), cast(null as double precision), cast(null as double precision), 0
    from deployments
    where outcome = 'failure'
    union all
    select
        {{ 'coalesce(deployments.team, \'unassigned\')' if dimension == 'team' else 'deployments.service' }},
        {{ to_reporting_tz('changes.deployed_at') }}, 'change', 0, 0, cast(null as double precision),
        case when not changes.is_negative_lead_time then changes.lead_time_minutes end,
        cast(null as double precision), 0
    from {{ ref('fct_changes') }} as changes
    inner join deployments on deployments.deployment_id = changes.deployment_id
    union all
    select
        {{ dimension_expr }}, {{ to_reporting_tz('resolved_at') }}, 'incident_resolved', 0, 0,
        cast(null as double precision), cast(null as double precision), time_to_restore_minutes, 0
    from {{ ref('fct_incidents') }}
    where resolved_at is not null
    union all
    select
        {{ dimension_expr }}, {{ to_reporting_tz('created_at') }}, 'incident_created', 0, 0,
        cast(null as double precision), cast(null as double precision), cast(null as double precision),
        case when resolved_at is null then 1 else 0 end
    from {{ ref('fct_incidents') }}
),

grains as (
    select 'day' as period_grain
    union all select 'week'
    union all select 'month'
),

bucketed as (
    select
        grains.period_grain,
        case grains.period_grain
            when 'day' then {{ period_start('day', 'events.local_at') }}
            when 'week' then {{ period_start('week', 'events.local_at') }}
            else {{ period_start('month', 'events.local_at') }}
        end as period_start,
        cast(events.local_at as date) as local_day,
        events.*
    from events
    cross join grains
),

{%- set aggregates -%}
        count(case when kind = 'deployment' then 1 end) as deployments,
        count(distinct case when kind = 'deployment' then local_day end) as deployment_days,
        count(case when kind = 'failed_attempt' then 1 end) as failed_deployment_attempts,
        count(case when kind = 'change' then 1 end) as changes,
        {{ percentile_cont('lead_time_minutes', 0.5) }} as lead_time_median_minutes,
        {{ percentile_cont('lead_time_minutes', 0.9) }} as lead_time_p90_minutes,
        sum(case when kind = 'deployment' then is_change_failure else 0 end) as change_failures,
        sum(case when kind = 'deployment' then is_rework else 0 end) as rework_deployments,
        count(case when kind = 'incident_created' then 1 end) as incidents_created,
        sum(case when kind = 'incident_created' then is_open else 0 end) as incidents_open,
        count(case when kind = 'incident_resolved' then 1 end) as incidents_resolved,
        {{ percentile_cont('time_to_restore_minutes', 0.5) }} as time_to_restore_median_minutes,
        {{ percentile_cont('time_to_restore_minutes', 0.9) }} as time_to_restore_p90_minutes,
        {{ percentile_cont('recovery_minutes', 0.5) }} as failed_deployment_recovery_median_minutes
{%- endset %}

aggregated as (
    select period_grain, period_start, dimension_value, {{ aggregates }}
    from bucketed
    group by 1, 2, 3
    union all
    select period_grain, period_start, 'all' as dimension_value, {{ aggregates }}
    from bucketed
    group by 1, 2
),

digits as (
    select 0 as digit union all select 1 union all select 2 union all select 3 union all select 4
    union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
),

day_offsets as (
    select thousands.digit * 1000 + hundreds.digit * 100 + tens.digit * 10 + ones.digit as day_offset
    from digits as thousands
    cross join digits as hundreds
    cross join digits as tens
    cross join digits as ones
),

day_range as (
    select min(local_day) as first_day, max(local_day) as last_day from bucketed
),

days as (
    select day_range.first_day + day_offsets.day_offset as day_date
    from day_range
    inner join day_offsets on day_offsets.day_offset <= day_range.last_day - day_range.first_day
),

periods as (
    select distinct 'day' as period_grain, {{ period_start('day', 'day_date') }} as period_start from days
    union
    select distinct 'week', {{ period_start('week', 'day_date') }} from days
    union
    select distinct 'month', {{ period_start('month', 'day_date') }} from days
),

dimension_values as (
    select distinct dimension_value from events where dimension_value is not null
    union
    select distinct {{ dimension_expr }} from {{ ref('dim_services') }}
    union
    select 'all'
),

dense as (
    select
        periods.period_grain,
        periods.period_start,
        dimension_values.dimension_value,
        case periods.period_grain
            when 'day' then 1
            when 'week' then 7
            else {{ period_days('month', 'periods.period_start') }}
        end as period_days
    from periods
    cross join dimension_values
),

joined as (
    select
        dense.period_grain,
        dense.period_start,
        dense.dimension_value,
        cast(coalesce(aggregated.deployments, 0) as integer) as deployments,
        cast(coalesce(aggregated.deployment_days, 0) as integer) as deployment_days,
        cast(coalesce(aggregated.deployments, 0) as double precision) / dense.period_days
            as deployment_frequency_per_day,
        cast(coalesce(aggregated.failed_deployment_attempts, 0) as integer) as failed_deployment_attempts,
        cast(coalesce(aggregated.changes, 0) as integer) as changes,
        cast(aggregated.lead_time_median_minutes as double precision) as lead_time_median_minutes,
        cast(aggregated.lead_time_p90_minutes as double precision) as lead_time_p90_minutes,
        cast(coalesce(aggregated.change_failures, 0) as integer) as change_failures,
        cast(aggregated.change_failures as double precision) / nullif(aggregated.deployments, 0)
            as change_failure_rate,
        cast(coalesce(aggregated.rework_deployments, 0) as integer) as rework_deployments,
        cast(aggregated.rework_deployments as double precision) / nullif(aggregated.deployments, 0)
            as rework_rate,
        cast(coalesce(aggregated.incidents_created, 0) as integer) as incidents_created,
        cast(coalesce(aggregated.incidents_open, 0) as integer) as incidents_open,
        cast(coalesce(aggregated.incidents_resolved, 0) as integer) as incidents_resolved,
        cast(aggregated.time_to_restore_median_minutes as double precision) as time_to_restore_median_minutes,
        cast(aggregated.time_to_restore_p90_minutes as double precision) as time_to_restore_p90_minutes,
        cast(aggregated.failed_deployment_recovery_median_minutes as double precision)
            as failed_deployment_recovery_median_minutes
    from dense
    left join aggregated
        on aggregated.period_grain = dense.period_grain
        and aggregated.period_start = dense.period_start
        and aggregated.dimension_value = dense.dimension_value
),

final as (
    select
        joined.*,
        {{ benchmark_tier('deployment_frequency', 'joined.deployment_frequency_per_day') }}
            as deployment_frequency_tier,
        {{ benchmark_tier('lead_time', 'joined.lead_time_median_minutes') }} as lead_time_tier,
        {{ benchmark_tier('change_failure_rate', 'joined.change_failure_rate') }} as change_failure_rate_tier,
        {{ benchmark_tier('time_to_restore', 'joined.time_to_restore_median_minutes') }} as time_to_restore_tier,
        {{ benchmark_tier('time_to_restore', 'joined.failed_deployment_recovery_median_minutes') }}
            as failed_deployment_recovery_tier,
        cast({{ sql_string(var('benchmark_edition')) }} as {{ type_text() }}) as benchmark_edition
    from joined
)

select
    period_grain,
    period_start,
    dimension_value as {{ dimension }},
    deployments,
    deployment_days,
    deployment_frequency_per_day,
    failed_deployment_attempts,
    changes,
    lead_time_median_minutes,
    lead_time_p90_minutes,
    change_failures,
    change_failure_rate,
    rework_deployments,
    rework_rate,
    incidents_created,
    incidents_open,
    incidents_resolved,
    time_to_restore_median_minutes,
    time_to_restore_p90_minutes,
    failed_deployment_recovery_median_minutes,
    deployment_frequency_tier,
    lead_time_tier,
    change_failure_rate_tier,
    time_to_restore_tier,
    failed_deployment_recovery_tier,
    benchmark_edition
from final
{% endmacro %}

{#- The best tier (lowest rank) of the configured benchmark edition whose threshold `value_expr` meets. -#}
{% macro benchmark_tier(metric, value_expr) -%}
case when {{ value_expr }} is null then null else (
    select benchmarks.tier
    from {{ ref('dora_benchmarks') }} as benchmarks
    where benchmarks.edition = {{ sql_string(var('benchmark_edition')) }}
        and benchmarks.metric = '{{ metric }}'
        and (
            benchmarks.threshold is null
            or (benchmarks.comparison = 'at_most' and {{ value_expr }} <= benchmarks.threshold)
            or (benchmarks.comparison = 'at_least' and {{ value_expr }} >= benchmarks.threshold)
        )
    order by benchmarks.tier_rank
    limit 1
) end
{%- endmacro %}
