{#-
  One row per incident with the deployment that caused it, if any.
  Explicit first: a hex token (7-40 characters, bounded by non-hex characters) of the incident's title,
  description or annotations that is a prefix of the sha of one of its service's successful production
  deployments deployed at or before the incident (the latest such), or of a commit in one of their change sets
  (the deployment that shipped it). Otherwise the latest such deployment within the attribution window.
-#}
with incidents as (
    select * from {{ ref('int_incidents') }}
),

deployments as (
    select * from {{ ref('int_successful_deployments') }}
),

tokens as (
    select distinct incident_id, token
    from (
        select incident_id, {{ hex_tokens('search_text') }} as token from incidents
    ) as split_text
    where length(token) between 7 and 40
),

candidate_shas as (
    select repository, deployment_id, commit_sha as sha from deployments
    union
    select repository, deployment_id, commit_sha from {{ ref('int_deployment_change_sets') }}
),

explicit_matches as (
    select
        incidents.incident_id,
        deployments.deployment_id,
        row_number() over (
            partition by incidents.incident_id
            order by deployments.deployed_at desc, deployments.created_at desc, deployments.deployment_id desc
        ) as match_rank
    from incidents
    inner join tokens on tokens.incident_id = incidents.incident_id
    inner join deployments
        on deployments.service = incidents.service
        and deployments.deployed_at <= incidents.created_at
    inner join candidate_shas
        on candidate_shas.repository = deployments.repository
        and candidate_shas.deployment_id = deployments.deployment_id
        and candidate_shas.sha like tokens.token || '%'
),

window_matches as (
    select
        incidents.incident_id,
        deployments.deployment_id,
        row_number() over (
            partition by incidents.incident_id
            order by deployments.deployed_at desc, deployments.created_at desc, deployments.deployment_id desc
        ) as match_rank
    from incidents
    inner join deployments
        on deployments.service = incidents.service
        and deployments.deployed_at <= incidents.created_at
        and incidents.created_at <= {{ add_hours('deployments.deployed_at', var('incident_attribution_window_hours')) }}
),

final as (
    select
        incidents.incident_id,
        coalesce(explicit_matches.deployment_id, window_matches.deployment_id) as caused_by_deployment_id,
        case
            when explicit_matches.deployment_id is not null then 'explicit'
            when window_matches.deployment_id is not null then 'window'
        end as attribution_method
    from incidents
    left join explicit_matches
        on explicit_matches.incident_id = incidents.incident_id and explicit_matches.match_rank = 1
    left join window_matches
        on window_matches.incident_id = incidents.incident_id and window_matches.match_rank = 1
)

select * from final
