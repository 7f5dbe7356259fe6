{#-
  The DORA metrics of every period (int_metric_periods) for each value of two dimensions: 'service' and 'team'
  ('all' = every value, so 'all' is the sum of the values, except that a monorepo commit shipped to two services
  counts once in 'all' and once in a team owning both: int_metric_events.counts_in_all and counts_in_team). The
  marts dora_metrics and dora_metrics_by_team each select one dimension: every rule is written once, here. Events with a data_error are left out (they are counted
  in dora_coverage). Releases, changes, pull requests, change failures, rework and recovery are bucketed by
  deployed_at, failed attempts by finished_at, incidents by created_at and resolved_at, on the reporting calendar.
-#}
with periods as (
    select * from {{ ref('int_metric_periods') }}
),

events as (
    select * from {{ ref('int_metric_events') }} where data_error is null
),

services as (
    select
        service,
        coalesce(team, 'unassigned') as team,
        github_repository is not null or has_deployments as has_repository
    from {{ ref('dim_services') }}
),

dimensioned as (
    select 'service' as dimension, service as dimension_value, events.* from events
    union all
    select 'team', team, events.* from events where counts_in_team
    union all
    select 'service', 'all', events.* from events where counts_in_all
    union all
    select 'team', 'all', events.* from events where counts_in_all
),

bucketed as (
    select
        periods.period_grain,
        {{ period_start_of_grain('periods.period_grain', 'dimensioned.local_at') }} as period_start,
        cast(dimensioned.local_at as date) as local_day,
        dimensioned.*
    from dimensioned
    cross join (select distinct period_grain from periods) as periods
),

aggregated as (
    select
        dimension,
        dimension_value,
        period_grain,
        period_start,
        count(case when event_kind = 'release' then 1 end) as deployments,
        count(distinct case when event_kind = 'release' then local_day end) as deployment_days,
        count(case when event_kind = 'release' and has_changes then 1 end) as releases_with_changes,
        count(case when event_kind = 'failed_attempt' then 1 end) as failed_deployment_attempts,
        count(case when event_kind = 'change' then 1 end) as changes,
        count(case when event_kind = 'change' then lead_time_minutes end) as lead_time_n,
        {{ percentiles("case when event_kind = 'change' then lead_time_minutes end", 'lead_time') }},
        count(case when event_kind = 'pull_request' then lead_time_minutes end) as pr_lead_time_n,
        {{ percentile_cont("case when event_kind = 'pull_request' then lead_time_minutes end", 0.5) }}
            as pr_lead_time_median_minutes,
        count(case when event_kind = 'release' and has_changes and is_change_failure then 1 end)
            as change_failures,
        count(case when event_kind = 'release' and is_rework then 1 end) as rework_deployments,
        count(case when event_kind = 'incident_created' then 1 end) as incidents_created,
        count(case when event_kind = 'incident_resolved' then 1 end) as incidents_resolved,
        count(time_to_restore_minutes) as time_to_restore_n,
        {{ percentiles('time_to_restore_minutes') }},
        count(recovery_minutes) as failed_deployment_recovery_n,
        {{ percentiles('recovery_minutes', 'failed_deployment_recovery') }}
    from bucketed
    group by 1, 2, 3, 4
),

open_incidents as (
    {#- An incident is open at a period's observed end when created before it and not resolved by then. -#}
    select
        dimensioned.dimension,
        dimensioned.dimension_value,
        periods.period_grain,
        periods.period_start,
        count(*) as incidents_open,
        max({{ minutes_between('dimensioned.occurred_at', 'periods.observed_until_at') }})
            as oldest_open_incident_age_minutes
    from dimensioned
    inner join periods
        on dimensioned.occurred_at < periods.observed_until_at
        and (dimensioned.ends_at is null or dimensioned.ends_at > periods.observed_until_at)
    where dimensioned.event_kind = 'incident_created'
    group by 1, 2, 3, 4
),

dimension_values as (
    select dimension, dimension_value, max(case when has_repository then 1 else 0 end) as has_repository
    from (
        select 'service' as dimension, service as dimension_value, has_repository from services
        union all
        select 'team', team, has_repository from services
        union all
        select 'service', 'all', has_repository from services
        union all
        select 'team', 'all', has_repository from services
        union all
        select
            dimension, dimension_value, event_kind in ('release', 'failed_attempt', 'change') as has_repository
        from dimensioned
    ) as seen
    group by 1, 2
),

dense as (
    select
        dimension_values.dimension,
        dimension_values.dimension_value,
        dimension_values.has_repository = 1 as has_repository,
        periods.*
    from periods
    cross join dimension_values
),

joined as (
    select
        dense.dimension,
        dense.dimension_value,
        dense.has_repository,
        dense.period_grain,
        dense.period_start,
        dense.is_complete_period,
        dense.observed_days,
        cast(coalesce(aggregated.deployments, 0) as integer) as deployments,
        cast(coalesce(aggregated.deployment_days, 0) as integer) as deployment_days,
        cast(coalesce(aggregated.deployments, 0) as double precision) / dense.observed_days
            as deployment_frequency_per_day,
        cast(coalesce(aggregated.releases_with_changes, 0) as integer) as releases_with_changes,
        cast(coalesce(aggregated.failed_deployment_attempts, 0) as integer) as failed_deployment_attempts,
        cast(coalesce(aggregated.changes, 0) as integer) as changes,
        cast(coalesce(aggregated.lead_time_n, 0) as integer) as lead_time_n,
        cast(aggregated.lead_time_median_minutes as double precision) as lead_time_median_minutes,
        cast(aggregated.lead_time_p90_minutes as double precision) as lead_time_p90_minutes,
        cast(aggregated.lead_time_mean_minutes as double precision) as lead_time_mean_minutes,
        cast(coalesce(aggregated.pr_lead_time_n, 0) as integer) as pr_lead_time_n,
        cast(aggregated.pr_lead_time_median_minutes as double precision) as pr_lead_time_median_minutes,
        cast(coalesce(aggregated.change_failures, 0) as integer) as change_failures,
        cast(aggregated.change_failures as double precision) / nullif(aggregated.releases_with_changes, 0)
            as change_failure_rate,
        cast(coalesce(aggregated.rework_deployments, 0) as integer) as rework_deployments,
        cast(aggregated.rework_deployments as double precision) / nullif(aggregated.deployments, 0)
            as rework_rate,
        cast(coalesce(aggregated.incidents_created, 0) as integer) as incidents_created,
        cast(coalesce(open_incidents.incidents_open, 0) as integer) as incidents_open,
        cast(open_incidents.oldest_open_incident_age_minutes as double precision)
            as oldest_open_incident_age_minutes,
        cast(coalesce(aggregated.incidents_resolved, 0) as integer) as incidents_resolved,
        cast(coalesce(aggregated.time_to_restore_n, 0) as integer) as time_to_restore_n,
        cast(aggregated.time_to_restore_median_minutes as double precision) as time_to_restore_median_minutes,
        cast(aggregated.time_to_restore_p90_minutes as double precision) as time_to_restore_p90_minutes,
        cast(aggregated.time_to_restore_mean_minutes as double precision) as time_to_restore_mean_minutes,
        cast(coalesce(aggregated.failed_deployment_recovery_n, 0) as integer) as failed_deployment_recovery_n,
        cast(aggregated.failed_deployment_recovery_median_minutes as double precision)
            as failed_deployment_recovery_median_minutes,
        cast(aggregated.failed_deployment_recovery_p90_minutes as double precision)
            as failed_deployment_recovery_p90_minutes,
        cast(aggregated.failed_deployment_recovery_mean_minutes as double precision)
            as failed_deployment_recovery_mean_minutes
    from dense
    left join aggregated
        on aggregated.dimension = dense.dimension
        and aggregated.dimension_value = dense.dimension_value
        and aggregated.period_grain = dense.period_grain
        and aggregated.period_start = dense.period_start
    left join open_incidents
        on open_incidents.dimension = dense.dimension
        and open_incidents.dimension_value = dense.dimension_value
        and open_incidents.period_grain = dense.period_grain
        and open_incidents.period_start = dense.period_start
),

final as (
    select
        joined.*,
        {#- No repository, no deployments to count: no deployment frequency tier (not 'low'). -#}
        case when joined.has_repository then
            {{ benchmark_tier('deployment_frequency', 'joined.deployment_frequency_per_day') }}
        end as deployment_frequency_tier,
        {{ benchmark_tier('lead_time', 'joined.lead_time_median_minutes') }} as lead_time_tier,
        {{ benchmark_tier('change_failure_rate', 'joined.change_failure_rate') }} as change_failure_rate_tier,
        {{ benchmark_tier('time_to_restore', 'joined.time_to_restore_median_minutes') }} as time_to_restore_tier,
        {{ benchmark_tier('time_to_restore', 'joined.failed_deployment_recovery_median_minutes') }}
            as failed_deployment_recovery_tier,
        cast({{ sql_string(var('benchmark_edition')) }} as {{ type_text() }}) as benchmark_edition
    from joined
)

select * from final
