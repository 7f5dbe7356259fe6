with incidents as (
    select * from {{ ref('int_incidents') }}
),

final as (
    select
        incidents.incident_id,
        incidents.service,
        incidents.team,
        incidents.pagerduty_service_id,
        incidents.title,
        incidents.urgency,
        incidents.created_at,
        incidents.resolved_at,
        incidents.status,
        case
            when incidents.resolved_at is not null and incidents.data_error is null
                then cast({{ minutes_between('incidents.created_at', 'incidents.resolved_at') }} as double precision)
        end as time_to_restore_minutes,
        cast(attribution.caused_by_deployment_id as {{ type_text() }}) as caused_by_deployment_id,
        attribution.attribution_method,
        incidents.data_error,
        handlers.acknowledged_by_team,
        handlers.resolved_by_team,
        handlers.handler_team_scope
    from incidents
    left join {{ ref('int_incident_attribution') }} as attribution
        on attribution.incident_id = incidents.incident_id
    left join {{ ref('int_flow_incident_handlers') }} as handlers on handlers.incident_id = incidents.incident_id
)

select
    incident_id, service, team, pagerduty_service_id, title, urgency, created_at, resolved_at, status,
    time_to_restore_minutes, caused_by_deployment_id, attribution_method, data_error,
    acknowledged_by_team, resolved_by_team, handler_team_scope
from final
