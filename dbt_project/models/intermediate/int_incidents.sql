{#-
  One row per PagerDuty incident, mapped to its service. resolved_at comes from the incident's resolution only
  (its resolved_at field, else its latest resolve log entry), and only while the incident is resolved.
  `search_text` is the text searched for commit shas: title, description and annotation (note) log entries.
  data_error flags what the figures cannot use (docs/metrics.md, data errors), first reason wins: resolved before
  created, created before the extract start, created or resolved after now (int_reporting_window).
-#}
with incidents as (
    select * from {{ ref('stg_pagerduty__incidents') }}
),

log_entries as (
    select
        incident_id,
        max(case when entry_type = 'resolve_log_entry' then created_at end) as last_resolve_logged_at,
        {{ dbt.listagg(
            "case when entry_type = 'annotate_log_entry' then coalesce(channel_summary, '') || ' ' || coalesce(summary, '') || ' ' || coalesce(channel_details, '') end",
            "' '") }} as annotation_text
    from {{ ref('stg_pagerduty__incident_log_entries') }}
    group by 1
),

resolved as (
    select
        incidents.incident_id,
        incidents.incident_number,
        services.service,
        services.team,
        incidents.pagerduty_service_id,
        incidents.title,
        incidents.urgency,
        incidents.status,
        incidents.created_at,
        case
            when incidents.status = 'resolved'
                then coalesce(incidents.resolved_at, log_entries.last_resolve_logged_at)
        end as resolved_at,
        coalesce(incidents.title, '') || ' ' || coalesce(incidents.description, '') || ' '
            || coalesce(log_entries.annotation_text, '') as search_text
    from incidents
    left join log_entries on log_entries.incident_id = incidents.incident_id
    left join {{ ref('int_pagerduty_services') }} as services
        on services.pagerduty_service_id = incidents.pagerduty_service_id
),

final as (
    select
        resolved.*,
        cast(case
            when resolved.resolved_at < resolved.created_at then 'resolved_before_created'
            when resolved.created_at < reporting_window.extract_start_at then 'before_extract_start'
            when resolved.created_at > reporting_window.now_at or resolved.resolved_at > reporting_window.now_at
                then 'in_future'
        end as {{ type_text() }}) as data_error
    from resolved
    cross join {{ ref('int_reporting_window') }} as reporting_window
)

select * from final
