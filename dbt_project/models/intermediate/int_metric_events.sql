{#-
  One row per dated event the DORA metrics count, with the service and team it counts for (no service:
  'unmapped'; no team: 'unassigned') and its instant `occurred_at` (UTC) and `local_at` (reporting calendar):
    release           a release (fct_deployments.deployment_kind 'release', or 'seed': the first release seen,
                      whose change set is unknown) at deployed_at
    failed_attempt    a failed production deployment at finished_at
    change            a deployed commit of a release at its deployed_at (rewritten copies left out)
    pull_request      a pull request (repository, number) once: first commit authored -> the release that shipped its
                      last change, for that release's service
    incident_created  an incident at created_at (ends_at: its resolution, NULL while open)
    incident_resolved an incident at resolved_at
  counts_in_all is false only for a monorepo commit's later shipments to other services (fct_changes
  .is_first_shipment): each service counts it, 'all' once. counts_in_team is the same rule within a team: a commit
  shipped to two services of one team counts once for the team, on the team's earliest release that shipped it
  (same order as is_first_shipment), so a team row is never more than the sum of its distinct commits.
  data_error is the source row's flag, else 'before_extract_start' / 'in_future' when the event lies outside the
  reporting window (int_reporting_window): such events are counted in dora_coverage, never in a figure.
-#}
with reporting_window as (
    select * from {{ ref('int_reporting_window') }}
),

deployments as (
    select * from {{ ref('fct_deployments') }}
),

releases as (
    select * from deployments where outcome = 'success' and deployment_kind in ('release', 'seed')
),

changes as (
    select
        changes.*,
        releases.service as release_service,
        releases.team as release_team,
        row_number() over (
            partition by changes.repository, changes.commit_sha, coalesce(releases.team, 'unassigned')
            order by changes.deployed_at, releases.created_at, changes.deployment_id
        ) = 1 as is_first_team_shipment
    from {{ ref('fct_changes') }} as changes
    inner join releases on releases.deployment_id = changes.deployment_id
    where not changes.is_duplicate_change
),

{#- A pull request once (repository, number): counted where the release that shipped its last change counts. -#}
pull_requests as (
    select
        repository,
        pull_request_number,
        release_service,
        release_team,
        deployed_at,
        min(started_at) over (partition by repository, pull_request_number) as first_started_at,
        row_number() over (
            partition by repository, pull_request_number order by deployed_at desc, release_service
        ) as recency
    from changes
    where pull_request_number is not null and data_error is null
),

incidents as (
    select * from {{ ref('fct_incidents') }}
),

events as (
    select
        'release' as event_kind,
        deployment_id as event_id,
        service,
        team,
        deployed_at as occurred_at,
        cast(null as timestamp) as ends_at,
        cast(null as {{ type_text() }}) as source_data_error,
        is_change_failure,
        is_rework,
        change_count > 0 as has_changes,
        case when is_change_failure then failed_deployment_recovery_minutes end as recovery_minutes,
        cast(null as double precision) as lead_time_minutes,
        cast(null as double precision) as time_to_restore_minutes,
        true as counts_in_all,
        true as counts_in_team
    from releases
    union all
    select
        'failed_attempt', deployment_id, service, team, finished_at, cast(null as timestamp),
        cast(null as {{ type_text() }}), false, false, false, cast(null as double precision),
        cast(null as double precision), cast(null as double precision), true, true
    from deployments
    where outcome = 'failure'
    union all
    select
        'change', repository || ':' || commit_sha, release_service, release_team, deployed_at,
        cast(null as timestamp), data_error, false, false, false, cast(null as double precision),
        lead_time_minutes, cast(null as double precision), is_first_shipment, is_first_team_shipment
    from changes
    union all
    select
        'pull_request', repository || '#' || cast(pull_request_number as {{ type_text() }}), release_service,
        release_team, deployed_at, cast(null as timestamp), cast(null as {{ type_text() }}), false, false,
        false, cast(null as double precision), {{ minutes_between('first_started_at', 'deployed_at') }},
        cast(null as double precision), true, true
    from pull_requests
    where recency = 1
    union all
    select
        'incident_created', incident_id, service, team, created_at, resolved_at, data_error, false, false,
        false, cast(null as double precision), cast(null as double precision), cast(null as double precision),
        true, true
    from incidents
    union all
    select
        'incident_resolved', incident_id, service, team, resolved_at, cast(null as timestamp), data_error,
        false, false, false, cast(null as double precision), cast(null as double precision),
        time_to_restore_minutes, true, true
    from incidents
    where resolved_at is not null
),

final as (
    select
        events.event_kind,
        cast(events.event_id as {{ type_text() }}) as event_id,
        coalesce(events.service, 'unmapped') as service,
        coalesce(events.team, 'unassigned') as team,
        events.occurred_at,
        {{ to_reporting_tz('events.occurred_at') }} as local_at,
        events.ends_at,
        cast(coalesce(
            events.source_data_error,
            case
                when events.occurred_at < reporting_window.extract_start_at then 'before_extract_start'
                when events.occurred_at > reporting_window.now_at then 'in_future'
            end
        ) as {{ type_text() }}) as data_error,
        events.is_change_failure,
        events.is_rework,
        events.has_changes,
        cast(events.recovery_minutes as double precision) as recovery_minutes,
        cast(events.lead_time_minutes as double precision) as lead_time_minutes,
        cast(events.time_to_restore_minutes as double precision) as time_to_restore_minutes,
        events.counts_in_all,
        events.counts_in_team
    from events
    cross join reporting_window
)

select * from final
