{#-
  One row per service x period_grain ('week', 'month') x metric: the service's baseline (its first
  var dora_baseline_days days of data, or from var dora_baseline_start_date), the latest complete period and the
  one before it (from dora_metrics / flow_metrics), the relative changes, and whether the latest period regressed
  from the baseline by more than var dora_regression_threshold (docs/metrics.md, Baseline).
-#}
{%- set days = var('dora_baseline_days') -%}
{%- set start_date = var('dora_baseline_start_date') -%}
with deployments as (
    select service, cast({{ to_reporting_tz('deployed_at') }} as date) as local_day, is_change_failure
    from {{ ref('fct_deployments') }}
    where outcome = 'success'
),

changes as (
    select deployments.service, cast({{ to_reporting_tz('changes.deployed_at') }} as date) as local_day,
           changes.lead_time_minutes
    from {{ ref('fct_changes') }} as changes
    inner join {{ ref('fct_deployments') }} as deployments on deployments.deployment_id = changes.deployment_id
    where not changes.is_negative_lead_time
),

incidents as (
    select service, cast({{ to_reporting_tz('created_at') }} as date) as created_day,
           cast({{ to_reporting_tz('resolved_at') }} as date) as resolved_day, time_to_restore_minutes
    from {{ ref('fct_incidents') }}
),

ci as (
    select services.service, cast({{ to_reporting_tz('ci.first_run_created_at') }} as date) as local_day,
           ci.feedback_minutes
    from {{ ref('int_flow_ci_commits') }} as ci
    inner join {{ ref('int_repository_primary_services') }} as services on services.repository = ci.repository
),

{#- Jira flow efficiency: active / flow time of the service's items done (flow_framework_metrics' rule). -#}
work_items as (
    select service, cast({{ to_reporting_tz('done_at') }} as date) as local_day, flow_time_ms, active_ms
    from {{ ref('int_flow_work_items') }}
    where service is not null and done_at is not null and flow_time_ms is not null
),

windows as (
    select
        service,
        {%- if start_date %}
        cast('{{ start_date }}' as date) as baseline_start
        {%- else %}
        min(first_day) as baseline_start
        {%- endif %}
    from (
        select service, min(local_day) as first_day from deployments group by 1
        union all
        select service, min(created_day) from incidents group by 1
    ) as firsts
    where service is not null
    group by 1
),

baseline_windows as (
    select service, baseline_start, cast(baseline_start + {{ days }} as date) as baseline_end_exclusive
    from windows
),

{#- Every baseline figure reads the service's rows of one CTE whose day falls in [baseline_start,
    baseline_end_exclusive): (figure, aggregate, rows, their day). -#}
{%- set baseline_figures = [
    ('deployments', 'count(*)', 'deployments', 'local_day'),
    ('change_failures', 'sum(case when is_change_failure then 1 else 0 end)', 'deployments', 'local_day'),
    ('lead_time_median_minutes', percentile_cont('lead_time_minutes', 0.5), 'changes', 'local_day'),
    ('time_to_restore_median_minutes', percentile_cont('time_to_restore_minutes', 0.5), 'incidents', 'resolved_day'),
    ('ci_feedback_median_minutes', percentile_cont('feedback_minutes', 0.5), 'ci', 'local_day'),
    ('flow_efficiency', 'cast(sum(active_ms) as double precision) / nullif(sum(flow_time_ms), 0)', 'work_items',
        'local_day'),
] %}

baseline_values as (
    select
        baseline_windows.service,
        baseline_windows.baseline_start,
        baseline_windows.baseline_end_exclusive,
        {%- for figure, aggregate, rows, day in baseline_figures %}
        (select {{ aggregate }} from {{ rows }}
         where {{ rows }}.service = baseline_windows.service
            and {{ rows }}.{{ day }} >= baseline_windows.baseline_start
            and {{ rows }}.{{ day }} < baseline_windows.baseline_end_exclusive) as {{ figure }}{{ ',' if not loop.last }}
        {%- endfor %}
    from baseline_windows
),

baseline_metrics as (
    select service, baseline_start, baseline_end_exclusive, 'deployment_frequency_per_day' as metric,
           cast(deployments as double precision) / {{ days }} as baseline_value
    from baseline_values
    union all
    select service, baseline_start, baseline_end_exclusive, 'lead_time_median_minutes', lead_time_median_minutes
    from baseline_values
    union all
    select service, baseline_start, baseline_end_exclusive, 'change_failure_rate',
           cast(change_failures as double precision) / nullif(deployments, 0)
    from baseline_values
    union all
    select service, baseline_start, baseline_end_exclusive, 'time_to_restore_median_minutes',
           time_to_restore_median_minutes
    from baseline_values
    union all
    select service, baseline_start, baseline_end_exclusive, 'ci_feedback_median_minutes', ci_feedback_median_minutes
    from baseline_values
    union all
    select service, baseline_start, baseline_end_exclusive, 'flow_efficiency', flow_efficiency
    from baseline_values
),

{#- the same measure per week and month, for the periods compared below -#}
period_flow_efficiency as (
    select
        work_items.service,
        grains.period_grain,
        case grains.period_grain
            when 'week' then {{ period_start('week', 'work_items.local_day') }}
            else {{ period_start('month', 'work_items.local_day') }}
        end as period_start,
        cast(sum(work_items.active_ms) as double precision) / nullif(sum(work_items.flow_time_ms), 0)
            as flow_efficiency
    from work_items
    cross join (select 'week' as period_grain union all select 'month') as grains
    group by 1, 2, 3
),

complete_periods as (
    select
        dora.service,
        dora.period_grain,
        dora.period_start,
        row_number() over (
            partition by dora.service, dora.period_grain order by dora.period_start desc
        ) as recency,
        dora.deployment_frequency_per_day,
        dora.lead_time_median_minutes,
        dora.change_failure_rate,
        dora.time_to_restore_median_minutes,
        flow.ci_feedback_median_minutes,
        efficiency.flow_efficiency
    from {{ ref('dora_metrics') }} as dora
    left join {{ ref('flow_metrics') }} as flow
        on flow.service = dora.service
        and flow.period_grain = dora.period_grain
        and flow.period_start = dora.period_start
    left join period_flow_efficiency as efficiency
        on efficiency.service = dora.service
        and efficiency.period_grain = dora.period_grain
        and efficiency.period_start = dora.period_start
    where dora.period_grain in ('week', 'month') and dora.is_complete_period
),

period_metrics as (
    {%- for metric in ['deployment_frequency_per_day', 'lead_time_median_minutes', 'change_failure_rate',
                       'time_to_restore_median_minutes', 'ci_feedback_median_minutes', 'flow_efficiency'] %}
    select service, period_grain, '{{ metric }}' as metric,
           max(case when recency = 1 then period_start end) as latest_period_start,
           max(case when recency = 1 then cast({{ metric }} as double precision) end) as latest_value,
           max(case when recency = 2 then period_start end) as previous_period_start,
           max(case when recency = 2 then cast({{ metric }} as double precision) end) as previous_value
    from complete_periods
    where recency <= 2
    group by 1, 2
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

compared as (
    select
        period_metrics.service,
        period_metrics.period_grain,
        period_metrics.metric,
        period_metrics.metric in ('deployment_frequency_per_day', 'flow_efficiency') as is_higher_better,
        baseline_metrics.baseline_start,
        cast(baseline_metrics.baseline_end_exclusive - 1 as date) as baseline_end,
        baseline_metrics.baseline_end_exclusive <= reporting_window.today as is_baseline_complete,
        cast(baseline_metrics.baseline_value as double precision) as baseline_value,
        period_metrics.previous_period_start,
        period_metrics.previous_value,
        period_metrics.latest_period_start,
        period_metrics.latest_value,
        (period_metrics.latest_value - baseline_metrics.baseline_value)
            / nullif(baseline_metrics.baseline_value, 0) as change_vs_baseline,
        (period_metrics.latest_value - period_metrics.previous_value)
            / nullif(period_metrics.previous_value, 0) as change_vs_previous
    from period_metrics
    inner join baseline_metrics
        on baseline_metrics.service = period_metrics.service
        and baseline_metrics.metric = period_metrics.metric
    cross join {{ ref('int_reporting_window') }} as reporting_window
)

select
    service,
    period_grain,
    metric,
    is_higher_better,
    baseline_start,
    baseline_end,
    is_baseline_complete,
    baseline_value,
    previous_period_start,
    cast(previous_value as double precision) as previous_value,
    latest_period_start,
    cast(latest_value as double precision) as latest_value,
    cast(change_vs_baseline as double precision) as change_vs_baseline,
    cast(change_vs_previous as double precision) as change_vs_previous,
    cast({{ var('dora_regression_threshold') }} as double precision) as regression_threshold,
    coalesce(
        is_baseline_complete
        and latest_period_start >= baseline_end
        and case
            when is_higher_better then change_vs_baseline < -{{ var('dora_regression_threshold') }}
            {#- from zero, any rise of a lower-is-better measure is a regression (the ratio is undefined) #}
            when baseline_value = 0 then latest_value > 0
            else change_vs_baseline > {{ var('dora_regression_threshold') }}
        end,
        false
    ) as is_regression
from compared
