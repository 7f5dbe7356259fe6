-- Incidents this quarter that were attributed to a deployment, with the deployment that caused them, how long
-- after the deployment they started and how they were attributed ('explicit': the incident names the commit;
-- 'window': the latest deployment of the service within INCIDENT_ATTRIBUTION_WINDOW_HOURS).
select
    incidents.incident_id,
    incidents.service,
    incidents.title,
    incidents.created_at,
    incidents.time_to_restore_minutes,
    incidents.attribution_method,
    deployments.deployment_id,
    deployments.repository,
    deployments.commit_sha,
    deployments.deployed_at,
    extract(epoch from (incidents.created_at - deployments.deployed_at)) / 60 as minutes_after_deployment
from marts.fct_incidents as incidents
inner join marts.fct_deployments as deployments
    on deployments.deployment_id = incidents.caused_by_deployment_id
where incidents.created_at >= date_trunc('quarter', current_date)
order by incidents.created_at, incidents.incident_id
