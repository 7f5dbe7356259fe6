{#-
  One row per successful production deployment: change-failure evidence, recovery and rework.
  Change failure: an attributed incident (open or resolved), or the next deployment is a rollback, or one of its
  changes is reverted ("This reverts commit <sha>") by a commit shipped by a later deployment whose deployed_at
  is within the attribution window after its own (a change reverted in the same deployment never ran alone).
  Recovery: the remediating deployment (rollback or revert) when there is one, else the last resolution of its
  attributed incidents (NULL while one of them is open).
-#}
with deployments as (
    select deployments.*, kinds.is_seed, kinds.is_rollback, kinds.is_redeploy
    from {{ ref('int_successful_deployments') }} as deployments
    inner join {{ ref('int_deployment_kinds') }} as kinds on kinds.deployment_id = deployments.deployment_id
),

changes as (
    select * from {{ ref('int_changes') }}
),

incident_evidence as (
    select
        attribution.caused_by_deployment_id as deployment_id,
        count(*) as incident_count,
        count(*) - count(incidents.resolved_at) as open_incident_count,
        max(incidents.resolved_at) as last_resolved_at
    from {{ ref('int_incident_attribution') }} as attribution
    inner join {{ ref('int_incidents') }} as incidents on incidents.incident_id = attribution.incident_id
    where attribution.caused_by_deployment_id is not null
    group by 1
),

rollback_evidence as (
    select deployments.deployment_id, next_deployments.deployed_at as remediated_at
    from deployments
    inner join deployments as next_deployments
        on next_deployments.deployment_id = deployments.next_deployment_id
        and next_deployments.repository = deployments.repository
    where next_deployments.is_rollback
),

revert_evidence as (
    select reverted.deployment_id, min(reverting.deployed_at) as remediated_at
    from changes as reverting
    inner join changes as reverted
        on reverted.repository = reverting.repository
        and reverted.commit_sha like reverting.reverted_commit_sha || '%'
    where reverting.is_revert
        and reverting.deployment_id <> reverted.deployment_id
        and reverting.deployed_at >= reverted.deployed_at
        and reverting.deployed_at <= {{ add_hours('reverted.deployed_at', var('incident_attribution_window_hours')) }}
    group by 1
),

contains_revert as (
    select distinct deployment_id from changes where is_revert
),

hotfix_prs as (
    select distinct prs.repository, prs.pull_request_number
    from {{ ref('stg_github__pull_requests') }} as prs
    left join (
        select repository, pull_request_number, {{ split_to_rows('label_names', ',') }} as label_name
        from {{ ref('stg_github__pull_requests') }}
        where label_names <> ''
    ) as labels
        on labels.repository = prs.repository and labels.pull_request_number = prs.pull_request_number
    where {{ regex_match('prs.title', sql_string(var('hotfix_pattern'))) }}
        or {{ regex_match('prs.head_branch', sql_string(var('hotfix_pattern'))) }}
        or {{ regex_match('labels.label_name', sql_string(var('hotfix_pattern'))) }}
),

bug_issue_prs as (
    select distinct prs.repository, prs.pull_request_number
    from {{ ref('stg_github__pull_requests') }} as prs
    inner join {{ ref('stg_jira__issues') }} as issues
        on issues.issue_type in ('Bug', 'Incident')
        and (
            (position(issues.issue_key in coalesce(prs.title, '')) > 0
             and {{ regex_match('prs.title', "'(^|[^A-Za-z0-9])' || issues.issue_key || '([^0-9]|$)'") }})
            or (position(issues.issue_key in coalesce(prs.head_branch, '')) > 0
             and {{ regex_match('prs.head_branch', "'(^|[^A-Za-z0-9])' || issues.issue_key || '([^0-9]|$)'") }})
        )
),

fix_changes as (
    select distinct changes.deployment_id
    from changes
    left join hotfix_prs
        on hotfix_prs.repository = changes.repository
        and hotfix_prs.pull_request_number = changes.pull_request_number
    left join bug_issue_prs
        on bug_issue_prs.repository = changes.repository
        and bug_issue_prs.pull_request_number = changes.pull_request_number
    where hotfix_prs.pull_request_number is not null or bug_issue_prs.pull_request_number is not null
),

evidence as (
    select
        deployments.deployment_id,
        deployments.deployed_at,
        deployments.is_seed,
        deployments.is_rollback,
        deployments.is_redeploy,
        coalesce(incident_evidence.incident_count, 0) as incident_count,
        incident_evidence.deployment_id is not null as has_incident,
        revert_evidence.deployment_id is not null as has_revert,
        rollback_evidence.deployment_id is not null as has_rollback,
        case
            when rollback_evidence.remediated_at is not null and revert_evidence.remediated_at is not null
                then least(rollback_evidence.remediated_at, revert_evidence.remediated_at)
            when rollback_evidence.remediated_at is not null then rollback_evidence.remediated_at
            when revert_evidence.remediated_at is not null then revert_evidence.remediated_at
            when incident_evidence.open_incident_count = 0 then incident_evidence.last_resolved_at
        end as recovered_at,
        deployments.is_rollback
        or contains_revert.deployment_id is not null
        or fix_changes.deployment_id is not null as is_rework
    from deployments
    left join incident_evidence on incident_evidence.deployment_id = deployments.deployment_id
    left join rollback_evidence on rollback_evidence.deployment_id = deployments.deployment_id
    left join revert_evidence on revert_evidence.deployment_id = deployments.deployment_id
    left join contains_revert on contains_revert.deployment_id = deployments.deployment_id
    left join fix_changes on fix_changes.deployment_id = deployments.deployment_id
),

final as (
    select
        evidence.*,
        has_incident or has_revert or has_rollback as is_change_failure,
        nullif(
            {{ dbt.concat([
                "case when has_incident then 'incident' else '' end",
                "case when has_incident and (has_revert or has_rollback) then ',' else '' end",
                "case when has_revert then 'revert' else '' end",
                "case when has_revert and has_rollback then ',' else '' end",
                "case when has_rollback then 'rollback' else '' end",
            ]) }},
            ''
        ) as failure_evidence
    from evidence
)

select
    deployment_id,
    is_seed,
    is_rollback,
    is_redeploy,
    is_change_failure,
    failure_evidence,
    is_rework,
    incident_count,
    case when is_change_failure then recovered_at end as recovered_at,
    case when is_change_failure then {{ minutes_between('deployed_at', 'recovered_at') }} end
        as recovery_minutes
from final
