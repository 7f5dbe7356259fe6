{#-
  One row per service x period_grain x period_start x anti-pattern detected (docs/metrics.md, Flow signals):
  the measured value, the threshold it crossed (a setting) and the keys of the evidence rows (sorted, comma
  separated; at most 50, evidence_count says how many). Only services, not 'all' or 'unmapped'.
-#}
with metrics as (
    select * from {{ ref('flow_metrics') }}
    where service not in ('all', 'unmapped')
),

events as (
    select
        events.*,
        grains.period_grain,
        {{ period_start_of_grain('grains.period_grain', 'events.local_at') }} as period_start
    from {{ ref('int_flow_period_events') }} as events
    cross join (select 'day' as period_grain union all select 'week' union all select 'month') as grains
),

{#- Siloed operations (docs/metrics.md): incidents by created_at, merged pull requests by merged_at. -#}
silo_items as (
    select
        service,
        'incidents_handled_outside' as signal,
        created_at as event_at,
        incident_id as evidence_key,
        case handler_team_scope when 'outside' then 1 when 'inside' then 0 end as is_hit
    from {{ ref('int_flow_incident_handlers') }}
    union all
    select
        service,
        'reviews_inside_team',
        merged_at,
        repository || '#' || cast(pull_request_number as {{ type_text() }}),
        case review_team_scope when 'inside_team' then 1 when 'cross_team' then 0 end
    from {{ ref('int_flow_pull_request_review_teams') }}
),

silo_events as (
    select
        silo_items.*,
        grains.period_grain,
        {{ period_start_of_grain('grains.period_grain', to_reporting_tz('silo_items.event_at')) }} as period_start
    from silo_items
    cross join (select 'day' as period_grain union all select 'week' union all select 'month') as grains
    where silo_items.service is not null and silo_items.service not in ('all', 'unmapped')
        and silo_items.is_hit is not null
),

{#- the share among the judged items (unmapped people and unreviewed pull requests are not judged) -#}
silo_shares as (
    select
        service, period_grain, period_start, signal,
        cast(sum(is_hit) as double precision) / count(*) as measured_value,
        case signal
            when 'incidents_handled_outside'
                then cast({{ var('flow_incidents_handled_outside_share_threshold') }} as double precision)
            else cast({{ var('flow_reviews_inside_team_share_threshold') }} as double precision)
        end as threshold
    from silo_events
    group by 1, 2, 3, 4
),

{#- A service's period figure above its setting (signal, the flow_metrics column or expression, the setting). -#}
{%- set threshold_signals = [
    ('manual_deployments', '1 - deployment_automation_share', 'flow_manual_deployment_share_threshold'),
    ('long_ci_feedback', 'ci_feedback_median_minutes', 'flow_ci_feedback_threshold_minutes'),
    ('slow_detection', 'time_to_detect_median_minutes', 'flow_time_to_detect_threshold_minutes'),
    ('staging_bypass', 'staging_bypass_rate', 'flow_staging_bypass_rate_threshold'),
    ('large_batches', 'batch_changes_median', 'flow_batch_changes_threshold'),
] %}

measured as (
    {%- for signal, value_expr, setting in threshold_signals %}
    select
        service, period_grain, period_start, '{{ signal }}' as signal,
        {{ value_expr }} as measured_value,
        cast({{ var(setting) }} as double precision) as threshold
    from metrics
    where {{ value_expr }} > {{ var(setting) }}
    union all
    {%- endfor %}
    select
        service, period_grain, period_start, 'long_lived_pull_requests',
        cast(long_lived_pull_requests_open as double precision),
        cast({{ var('flow_long_lived_pull_request_days') }} as double precision)
    from metrics
    where long_lived_pull_requests_open > 0
    union all
    select service, period_grain, period_start, signal, measured_value, threshold
    from silo_shares
    where measured_value > threshold
),

{#- The rows behind each signal: the events (or open pull requests) that make the measured value. -#}
evidence_rows as (
    select service, period_grain, period_start, 'manual_deployments' as signal, evidence_key
    from events where kind = 'production_deployment' and is_automated = 0
    union all
    select service, period_grain, period_start, 'long_ci_feedback', evidence_key
    from events where kind = 'ci_commit' and feedback_minutes > {{ var('flow_ci_feedback_threshold_minutes') }}
    union all
    select service, period_grain, period_start, 'slow_detection', evidence_key
    from events
    where kind = 'release' and time_to_detect_minutes > {{ var('flow_time_to_detect_threshold_minutes') }}
    union all
    select service, period_grain, period_start, 'staging_bypass', evidence_key
    from events where kind = 'release' and is_staging_bypass = 1
    union all
    select service, period_grain, period_start, 'large_batches', evidence_key
    from events where kind = 'release' and batch_changes > {{ var('flow_batch_changes_threshold') }}
    union all
    select
        pull_requests.service, period_ends.period_grain, period_ends.period_start, 'long_lived_pull_requests',
        pull_requests.repository || '#' || cast(pull_requests.pull_request_number as {{ type_text() }})
    from (
        select distinct
            period_grain,
            period_start,
            cast(cast({{ period_end_of_grain('period_grain', 'period_start') }} as date) as timestamp) as period_end
        from metrics
    ) as period_ends
    {# a pure range join, as in int_flow_metrics: long-lived from created + the setting's days until closed #}
    inner join (
        select
            service,
            repository,
            pull_request_number,
            {{ add_hours(to_reporting_tz('created_at'), var('flow_long_lived_pull_request_days') * 24) }}
                as local_long_lived_from,
            coalesce({{ to_reporting_tz('closed_at') }}, cast('9999-12-31' as timestamp)) as local_open_until
        from {{ ref('int_flow_pull_requests') }}
    ) as pull_requests
        on pull_requests.local_long_lived_from < period_ends.period_end
        and pull_requests.local_open_until >= period_ends.period_end
    union all
    select service, period_grain, period_start, signal, evidence_key
    from silo_events where is_hit = 1
),

ranked_evidence as (
    select
        evidence_rows.*,
        row_number() over (
            partition by service, period_grain, period_start, signal order by evidence_key
        ) as evidence_rank
    from evidence_rows
),

evidence as (
    select
        service, period_grain, period_start, signal,
        count(*) as evidence_count,
        {{ string_agg_sorted("case when evidence_rank <= 50 then evidence_key end", "evidence_key") }} as evidence_keys
    from ranked_evidence
    group by 1, 2, 3, 4
)

select
    measured.service,
    measured.period_grain,
    measured.period_start,
    measured.signal,
    cast(measured.measured_value as double precision) as measured_value,
    cast(measured.threshold as double precision) as threshold,
    cast(coalesce(evidence.evidence_count, 0) as integer) as evidence_count,
    evidence.evidence_keys
from measured
left join evidence
    on evidence.service = measured.service
    and evidence.period_grain = measured.period_grain
    and evidence.period_start = measured.period_start
    and evidence.signal = measured.signal
