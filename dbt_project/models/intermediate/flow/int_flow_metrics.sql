{#-
  One row per dimension_kind ('service' or 'team') x period_grain x period_start x dimension value (with 'all'):
  the flow figures of flow_metrics and flow_metrics_by_team, computed once. Dense: every period from the first
  to the last day holding any flow event, for every value. Events are bucketed as int_flow_period_events says;
  open pull requests are counted at the period's end.
-#}
{%- set stages = ['development', 'review', 'testing', 'staging', 'production'] -%}
{#- the aggregates' names, in the order they are computed below -#}
{%- set aggregate_columns = [
    'changes', 'lead_time_n', 'lead_time_median_minutes', 'lead_time_p90_minutes', 'lead_time_mean_minutes',
    'stage_development_n', 'stage_development_median_minutes', 'stage_development_p90_minutes',
    'stage_development_mean_minutes', 'share_development_median', 'stage_review_n',
    'stage_review_median_minutes', 'stage_review_p90_minutes', 'stage_review_mean_minutes',
    'share_review_median', 'stage_testing_n', 'stage_testing_median_minutes', 'stage_testing_p90_minutes',
    'stage_testing_mean_minutes', 'share_testing_median', 'stage_staging_n', 'stage_staging_median_minutes',
    'stage_staging_p90_minutes', 'stage_staging_mean_minutes', 'share_staging_median', 'stage_production_n',
    'stage_production_median_minutes', 'stage_production_p90_minutes', 'stage_production_mean_minutes',
    'share_production_median', 'pickup_median_minutes', 'review_median_minutes', 'merge_wait_median_minutes',
    'review_rounds_mean', 'merge_to_staging_median_minutes', 'staging_to_production_median_minutes',
    'releases', 'releases_bypassing_staging', 'batch_changes_median', 'batch_pull_requests_median',
    'time_to_detect_n', 'time_to_detect_median_minutes', 'time_to_acknowledge_median_minutes',
    'time_to_resolve_median_minutes', 'pull_requests_merged', 'lines_changed_median',
    'pull_request_open_median_minutes', 'ci_runs', 'ci_runs_completed', 'ci_runs_successful',
    'ci_runs_rerun', 'ci_run_median_minutes', 'ci_run_p90_minutes', 'ci_queue_median_minutes',
    'ci_feedback_n', 'ci_feedback_median_minutes', 'ci_feedback_p90_minutes', 'ci_pipeline_median_minutes',
    'production_deployments_created', 'production_deployments_with_creator',
    'production_deployments_automated'
] -%}
with recursive events as (
    select * from {{ ref('int_flow_period_events') }}
),

grains as (
    select 'day' as period_grain
    union all select 'week'
    union all select 'month'
),

dimensioned as (
    select 'service' as dimension_kind, service as dimension_value, events.* from events
    union all
    select 'team', coalesce(team, 'unassigned'), events.* from events
),

bucketed as (
    select
        grains.period_grain,
        {{ period_start_of_grain('grains.period_grain', 'dimensioned.local_at') }} as period_start,
        dimensioned.*
    from dimensioned
    cross join grains
),

{%- set aggregates -%}
        count(case when kind = 'change' then 1 end) as changes,
        count(lead_time_minutes) as lead_time_n,
        {{ percentiles('lead_time_minutes') }},
        {%- for stage in stages %}
        count(stage_{{ stage }}_minutes) as stage_{{ stage }}_n,
        {{ percentiles('stage_' ~ stage ~ '_minutes') }},
        {{ percentile_cont('share_' ~ stage, 0.5) }} as share_{{ stage }}_median,
        {%- endfor %}
        {{ percentile_cont('pickup_minutes', 0.5) }} as pickup_median_minutes,
        {{ percentile_cont('review_minutes', 0.5) }} as review_median_minutes,
        {{ percentile_cont('merge_wait_minutes', 0.5) }} as merge_wait_median_minutes,
        avg(review_rounds) as review_rounds_mean,
        {{ percentile_cont('merge_to_staging_minutes', 0.5) }} as merge_to_staging_median_minutes,
        {{ percentile_cont('staging_to_production_minutes', 0.5) }} as staging_to_production_median_minutes,
        count(case when kind = 'release' then 1 end) as releases,
        sum(is_staging_bypass) as releases_bypassing_staging,
        {{ percentile_cont('batch_changes', 0.5) }} as batch_changes_median,
        {{ percentile_cont('batch_pull_requests', 0.5) }} as batch_pull_requests_median,
        count(time_to_detect_minutes) as time_to_detect_n,
        {{ percentile_cont('time_to_detect_minutes', 0.5) }} as time_to_detect_median_minutes,
        {{ percentile_cont('time_to_acknowledge_minutes', 0.5) }} as time_to_acknowledge_median_minutes,
        {{ percentile_cont('time_to_resolve_minutes', 0.5) }} as time_to_resolve_median_minutes,
        count(case when kind = 'pull_request_merged' then 1 end) as pull_requests_merged,
        {{ percentile_cont('lines_changed', 0.5) }} as lines_changed_median,
        {{ percentile_cont('pull_request_open_minutes', 0.5) }} as pull_request_open_median_minutes,
        count(case when kind = 'ci_run' then 1 end) as ci_runs,
        sum(is_completed) as ci_runs_completed,
        sum(is_success) as ci_runs_successful,
        sum(is_rerun) as ci_runs_rerun,
        {{ percentiles('run_minutes', 'ci_run', mean=false) }},
        {{ percentile_cont('queue_minutes', 0.5) }} as ci_queue_median_minutes,
        count(feedback_minutes) as ci_feedback_n,
        {{ percentiles('feedback_minutes', 'ci_feedback', mean=false) }},
        {{ percentile_cont('pipeline_minutes', 0.5) }} as ci_pipeline_median_minutes,
        count(case when kind = 'production_deployment' then 1 end) as production_deployments_created,
        count(is_automated) as production_deployments_with_creator,
        sum(is_automated) as production_deployments_automated
{%- endset %}

aggregated as (
    select dimension_kind, period_grain, period_start, dimension_value, {{ aggregates }}
    from bucketed
    group by 1, 2, 3, 4
    union all
    select dimension_kind, period_grain, period_start, 'all' as dimension_value, {{ aggregates }}
    from bucketed
    where dimension_kind = 'service'
    group by 1, 2, 3
    union all
    select 'team', period_grain, period_start, 'all' as dimension_value, {{ aggregates }}
    from bucketed
    where dimension_kind = 'service'
    group by 1, 2, 3
),

day_range as (
    select min(cast(local_at as date)) as first_day, max(cast(local_at as date)) as last_day from events
),

{{ days_and_periods_ctes() }},

dimension_values as (
    select distinct 'service' as dimension_kind, service as dimension_value from events
    union
    select distinct 'service', service from {{ ref('dim_services') }}
    union
    select distinct 'team', coalesce(team, 'unassigned') from events
    union
    select distinct 'team', coalesce(team, 'unassigned') from {{ ref('dim_services') }}
    union
    select 'service', 'all'
    union
    select 'team', 'all'
),

dense as (
    select
        dimension_values.dimension_kind,
        periods.period_grain,
        periods.period_start,
        dimension_values.dimension_value,
        cast({{ period_end_of_grain('periods.period_grain', 'periods.period_start') }} as date) as period_end
    from periods
    cross join dimension_values
),

open_pull_requests as (
    select
        pull_requests.service,
        coalesce(pull_requests.team, 'unassigned') as team,
        {{ to_reporting_tz('pull_requests.created_at') }} as local_created_at,
        {{ add_hours(to_reporting_tz('pull_requests.created_at'), var('flow_long_lived_pull_request_days') * 24) }}
            as local_long_lived_from,
        coalesce({{ to_reporting_tz('pull_requests.closed_at') }}, cast('9999-12-31' as timestamp)) as local_open_until
    from {{ ref('int_flow_pull_requests') }} as pull_requests
),

period_ends as (
    select distinct period_grain, period_start, cast(period_end as timestamp) as period_end from dense
),

{#- A pure range join (two inequalities, no OR): DuckDB runs it as an inequality join, not a nested loop. -#}
open_at_period_end as (
    select
        period_ends.period_grain,
        period_ends.period_start,
        open_pull_requests.service,
        open_pull_requests.team,
        case when open_pull_requests.local_long_lived_from < period_ends.period_end then 1 else 0 end
            as is_long_lived
    from period_ends
    inner join open_pull_requests
        on open_pull_requests.local_created_at < period_ends.period_end
        and open_pull_requests.local_open_until >= period_ends.period_end
),

work_in_progress as (
    select 'service' as dimension_kind, period_grain, period_start, service as dimension_value,
           count(*) as pull_requests_open, sum(is_long_lived) as pull_requests_open_long_lived
    from open_at_period_end
    group by 1, 2, 3, 4
    union all
    select 'team', period_grain, period_start, team, count(*), sum(is_long_lived)
    from open_at_period_end
    group by 1, 2, 3, 4
    union all
    select 'service', period_grain, period_start, 'all', count(*), sum(is_long_lived)
    from open_at_period_end
    group by 1, 2, 3, 4
    union all
    select 'team', period_grain, period_start, 'all', count(*), sum(is_long_lived)
    from open_at_period_end
    group by 1, 2, 3, 4
),

joined as (
    select
        dense.dimension_kind,
        dense.period_grain,
        dense.period_start,
        dense.dimension_value,
        {%- for column in aggregate_columns %}
        aggregated.{{ column }},
        {%- endfor %}
        coalesce(work_in_progress.pull_requests_open, 0) as wip_pull_requests_open,
        coalesce(work_in_progress.pull_requests_open_long_lived, 0) as wip_pull_requests_long_lived
    from dense
    left join aggregated
        on aggregated.dimension_kind = dense.dimension_kind
        and aggregated.period_grain = dense.period_grain
        and aggregated.period_start = dense.period_start
        and aggregated.dimension_value = dense.dimension_value
    left join work_in_progress
        on work_in_progress.dimension_kind = dense.dimension_kind
        and work_in_progress.period_grain = dense.period_grain
        and work_in_progress.period_start = dense.period_start
        and work_in_progress.dimension_value = dense.dimension_value
),

{#- The bottleneck: the stage with the largest median share of lead time (ties: the earlier stage). -#}
final as (
    select
        joined.*,
        case
            when greatest({% for stage in stages %}coalesce(share_{{ stage }}_median, 0){{ ', ' if not loop.last }}{% endfor %}) <= 0
                then null
            {%- for stage in stages %}
            when coalesce(share_{{ stage }}_median, 0) = greatest({% for other in stages %}coalesce(share_{{ other }}_median, 0){{ ', ' if not loop.last }}{% endfor %})
                then '{{ stage }}'
            {%- endfor %}
        end as bottleneck_stage
    from joined
)

select * from final
