{#-
  One row per PagerDuty incident: its owning team (the service's, int_incidents), the first acknowledger and the
  first resolver when they are people (int_flow_incident_responses; a service or integration agent is no person)
  and their teams by stg_team_members (docs/metrics.md, "Siloed operations"). handler_team_scope:
    outside   a responding person maps to a team other than the owning team
    inside    every responding person maps to the owning team
    unmapped  the service has no owning team, or a responding person maps to no team (and none is outside)
    NULL      no person acknowledged or resolved it (nothing to judge)
-#}
with incidents as (
    select incident_id, service, team, created_at from {{ ref('int_incidents') }}
),

members as (
    select pagerduty_user_id, team from {{ ref('stg_team_members') }} where pagerduty_user_id is not null
),

joined as (
    select
        incidents.incident_id,
        incidents.service,
        incidents.team as owning_team,
        incidents.created_at,
        responses.acknowledged_by_user_id,
        acknowledgers.team as acknowledged_by_team,
        responses.resolved_by_user_id,
        resolvers.team as resolved_by_team
    from incidents
    left join {{ ref('int_flow_incident_responses') }} as responses on responses.incident_id = incidents.incident_id
    left join members as acknowledgers on acknowledgers.pagerduty_user_id = responses.acknowledged_by_user_id
    left join members as resolvers on resolvers.pagerduty_user_id = responses.resolved_by_user_id
)

select
    joined.*,
    case
        when acknowledged_by_user_id is null and resolved_by_user_id is null then null
        when owning_team is null then 'unmapped'
        when lower(acknowledged_by_team) <> lower(owning_team) or lower(resolved_by_team) <> lower(owning_team)
            then 'outside'
        when (acknowledged_by_user_id is not null and acknowledged_by_team is null)
            or (resolved_by_user_id is not null and resolved_by_team is null)
            then 'unmapped'
        else 'inside'
    end as handler_team_scope
from joined
