{#-
  One row per incident with the release that caused it, if any (a release: the first successful production
  deployment of a sha, int_deployment_kinds; caused_by_deployment_id is its id, its release_id).
  Explicit first: a hex token (7-40 characters, bounded by non-hex characters) of the incident's title,
  description or annotations that is a prefix of the sha of one of its service's releases or of a commit of one
  of their change sets: the release that first shipped it. The release's rollout must have started (its first
  deployment created) at or before the incident; it may still be in progress. The latest if several match.
  Otherwise window: the latest release that shipped changes (kind 'release': no seed, redeploy, rollback or
  rollout step) deployed at or before the incident and at most the attribution window before it.
-#}
with incidents as (
    select * from {{ ref('int_incidents') }}
),

releases as (
    select deployments.*, kinds.deployment_kind, rollouts.rollout_started_at
    from {{ ref('int_successful_deployments') }} as deployments
    inner join {{ ref('int_deployment_kinds') }} as kinds
        on kinds.deployment_id = deployments.deployment_id
        and kinds.release_id = deployments.deployment_id
    inner join (
        select release_id, min(deployments.created_at) as rollout_started_at
        from {{ ref('int_deployment_kinds') }} as kinds
        inner join {{ ref('int_successful_deployments') }} as deployments
            on deployments.deployment_id = kinds.deployment_id
        group by 1
    ) as rollouts on rollouts.release_id = deployments.deployment_id
),

tokens as (
    select distinct incident_id, token
    from (
        select incident_id, {{ hex_tokens('search_text') }} as token from incidents
    ) as split_text
    where length(token) between 7 and 40
),

candidate_shas as (
    select repository, deployment_id, commit_sha as sha from releases
    union
    select repository, deployment_id, commit_sha from {{ ref('int_deployment_change_sets') }}
),

explicit_matches as (
    select
        incidents.incident_id,
        releases.deployment_id,
        row_number() over (
            partition by incidents.incident_id
            order by releases.deployed_at desc, releases.created_at desc, releases.deployment_id desc
        ) as match_rank
    from incidents
    inner join tokens on tokens.incident_id = incidents.incident_id
    inner join releases
        on releases.service = incidents.service
        and releases.rollout_started_at <= incidents.created_at
    inner join candidate_shas
        on candidate_shas.repository = releases.repository
        and candidate_shas.deployment_id = releases.deployment_id
        and candidate_shas.sha like tokens.token || '%'
),

window_matches as (
    select
        incidents.incident_id,
        releases.deployment_id,
        row_number() over (
            partition by incidents.incident_id
            order by releases.deployed_at desc, releases.created_at desc, releases.deployment_id desc
        ) as match_rank
    from incidents
    inner join releases
        on releases.service = incidents.service
        and releases.deployment_kind = 'release'
        and releases.deployed_at <= incidents.created_at
        and incidents.created_at <= {{ add_hours('releases.deployed_at', var('incident_attribution_window_hours')) }}
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
