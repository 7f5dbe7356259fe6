{#-
  One row per successful production deployment: its kind, change-failure evidence and recovery (releases only:
  rollout steps, redeploys and rollbacks ship no change and fail no change), and rework evidence.
  Change failure of a release:
  - incident: an incident (open or resolved) is attributed to it (int_incident_attribution);
  - rollback: a rollback replaced its sha on an environment (the rollback's previous deployment there belongs to
    this release: the release itself, one of its rollout steps or a redeploy of its sha);
  - revert: a "This reverts commit <sha>" line of a change of a later release, deployed within the attribution
    window after it, names one of its changes; not when the line re-applies a change (the reverted commit is
    itself a revert), nor when the revert is undone (reverted) by a commit of its own release.
  Recovery: the earliest remediating deployment (rollback or reverting release) when there is one, else the last
  resolution of its attributed incidents (NULL while one of them is open); measured from the release's deployed_at.
  Rework evidence (DORA 2024, sorted, comma-separated): 'rollback' (the deployment is a rollback); on releases
  'revert' (ships a revert that is neither a re-apply nor undone in the same release), 'hotfix' (a change's pull request matches hotfix_pattern in
  its title, head branch or a label), 'defect_key' (a change's pull request names, case-insensitively, the key of
  a Jira issue of a type in rework_issue_types, of the service's Jira project when the catalog names one),
  'fix_forward' (a release of the service deployed after an attributed incident was created and before it was
  resolved, or while it is open).
-#}
with deployments as (
    select deployments.*, kinds.deployment_kind, kinds.release_id, kinds.is_seed, kinds.is_rollback,
           kinds.is_redeploy, kinds.deployment_kind in ('seed', 'release') as is_release
    from {{ ref('int_successful_deployments') }} as deployments
    inner join {{ ref('int_deployment_kinds') }} as kinds on kinds.deployment_id = deployments.deployment_id
),

changes as (
    select * from {{ ref('int_changes') }}
),

attributed_incidents as (
    select attribution.caused_by_deployment_id as deployment_id, incidents.*
    from {{ ref('int_incident_attribution') }} as attribution
    inner join {{ ref('int_incidents') }} as incidents on incidents.incident_id = attribution.incident_id
    where attribution.caused_by_deployment_id is not null
),

incident_evidence as (
    select
        deployment_id,
        count(*) as incident_count,
        count(*) - count(resolved_at) as open_incident_count,
        max(resolved_at) as last_resolved_at
    from attributed_incidents
    group by 1
),

rollback_evidence as (
    select replaced.release_id as deployment_id, min(rollbacks.deployed_at) as remediated_at
    from deployments as rollbacks
    inner join deployments as replaced on replaced.deployment_id = rollbacks.previous_deployment_id
    where rollbacks.is_rollback and replaced.release_id is not null
    group by 1
),

revert_lines as (
    select
        reverting.repository,
        reverting.service,
        reverting.commit_sha,
        reverting.deployment_id,
        reverting.deployed_at,
        lines.reverted_commit_sha,
        lines.is_reapply,
        exists (
            select 1
            from {{ ref('int_commit_reverts') }} as undoing
            inner join changes as undoing_changes
                on undoing_changes.repository = undoing.repository
                and undoing_changes.commit_sha = undoing.commit_sha
            where undoing.repository = reverting.repository
                and undoing.reverted_commit_sha = reverting.commit_sha
                and undoing_changes.deployment_id = reverting.deployment_id
        ) as is_undone_in_release
    from changes as reverting
    inner join {{ ref('int_commit_reverts') }} as lines
        on lines.repository = reverting.repository and lines.commit_sha = reverting.commit_sha
    where not reverting.is_duplicate_change
),

revert_evidence as (
    select reverted.deployment_id, min(revert_lines.deployed_at) as remediated_at
    from revert_lines
    inner join changes as reverted
        on reverted.repository = revert_lines.repository
        and reverted.service = revert_lines.service
        and reverted.commit_sha = revert_lines.reverted_commit_sha
    where not revert_lines.is_reapply
        and not revert_lines.is_undone_in_release
        and revert_lines.deployment_id <> reverted.deployment_id
        and revert_lines.deployed_at >= reverted.deployed_at
        and revert_lines.deployed_at <= {{ add_hours('reverted.deployed_at', var('incident_attribution_window_hours')) }}
    group by 1
),

revert_rework as (
    select distinct deployment_id from revert_lines where not is_reapply and not is_undone_in_release
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

service_jira_projects as (
    select service, max(jira_project_key) as jira_project_key
    from {{ ref('stg_service_catalog') }}
    group by 1
),

defect_issues as (
    select upper(issue_key) as issue_key, upper(project_key) as project_key
    from {{ ref('stg_jira__issues') }}
    where issue_key is not null
        and position(
            ',' || lower(trim(issue_type)) || ','
            in ',' || lower(replace({{ sql_string(var('rework_issue_types')) }}, ', ', ',')) || ','
        ) > 0
),

{#- Per service: a monorepo's services may name different Jira projects (the PR counts for the one it ships in). -#}
defect_key_prs as (
    select distinct prs.repository, services.service, prs.pull_request_number
    from {{ ref('stg_github__pull_requests') }} as prs
    inner join {{ ref('int_repository_services') }} as services on services.repository = prs.repository
    left join service_jira_projects on service_jira_projects.service = services.service
    inner join defect_issues
        on (service_jira_projects.jira_project_key is null
            or defect_issues.project_key = upper(service_jira_projects.jira_project_key))
        and (
            (position(defect_issues.issue_key in upper(coalesce(prs.title, ''))) > 0
             and {{ regex_match('upper(prs.title)', "'(^|[^A-Z0-9])' || defect_issues.issue_key || '([^0-9]|$)'") }})
            or (position(defect_issues.issue_key in upper(coalesce(prs.head_branch, ''))) > 0
             and {{ regex_match('upper(prs.head_branch)', "'(^|[^A-Z0-9])' || defect_issues.issue_key || '([^0-9]|$)'") }})
        )
),

change_rework as (
    select
        changes.deployment_id,
        max(case when hotfix_prs.pull_request_number is not null then 1 else 0 end) as has_hotfix,
        max(case when defect_key_prs.pull_request_number is not null then 1 else 0 end) as has_defect_key
    from changes
    left join hotfix_prs
        on hotfix_prs.repository = changes.repository
        and hotfix_prs.pull_request_number = changes.pull_request_number
    left join defect_key_prs
        on defect_key_prs.repository = changes.repository
        and defect_key_prs.service = changes.service
        and defect_key_prs.pull_request_number = changes.pull_request_number
    where not changes.is_duplicate_change
    group by 1
),

fix_forwards as (
    select distinct later.deployment_id
    from attributed_incidents
    inner join deployments as later
        on later.service = attributed_incidents.service
        and later.deployment_kind = 'release'
        and later.deployment_id <> attributed_incidents.deployment_id
        and later.deployed_at > attributed_incidents.created_at
        and (attributed_incidents.resolved_at is null or later.deployed_at <= attributed_incidents.resolved_at)
),

evidence as (
    select
        deployments.deployment_id,
        deployments.deployed_at,
        deployments.deployment_kind,
        deployments.release_id,
        deployments.is_seed,
        deployments.is_rollback,
        deployments.is_redeploy,
        coalesce(incident_evidence.incident_count, 0) as incident_count,
        deployments.is_release and incident_evidence.deployment_id is not null as has_incident,
        deployments.is_release and revert_evidence.deployment_id is not null as has_revert,
        deployments.is_release and rollback_evidence.deployment_id is not null as has_rollback,
        case
            when rollback_evidence.remediated_at is not null and revert_evidence.remediated_at is not null
                then least(rollback_evidence.remediated_at, revert_evidence.remediated_at)
            when rollback_evidence.remediated_at is not null then rollback_evidence.remediated_at
            when revert_evidence.remediated_at is not null then revert_evidence.remediated_at
            when incident_evidence.open_incident_count = 0 then incident_evidence.last_resolved_at
        end as recovered_at,
        deployments.is_rollback as rework_rollback,
        deployments.is_release and revert_rework.deployment_id is not null as rework_revert,
        deployments.is_release and coalesce(change_rework.has_hotfix, 0) = 1 as rework_hotfix,
        deployments.is_release and coalesce(change_rework.has_defect_key, 0) = 1 as rework_defect_key,
        fix_forwards.deployment_id is not null as rework_fix_forward
    from deployments
    left join incident_evidence on incident_evidence.deployment_id = deployments.deployment_id
    left join rollback_evidence on rollback_evidence.deployment_id = deployments.deployment_id
    left join revert_evidence on revert_evidence.deployment_id = deployments.deployment_id
    left join revert_rework on revert_rework.deployment_id = deployments.deployment_id
    left join change_rework on change_rework.deployment_id = deployments.deployment_id
    left join fix_forwards on fix_forwards.deployment_id = deployments.deployment_id
),

final as (
    select
        evidence.*,
        has_incident or has_revert or has_rollback as is_change_failure,
        nullif(
            {{ dbt.concat([
                "case when has_incident then ',incident' else '' end",
                "case when has_revert then ',revert' else '' end",
                "case when has_rollback then ',rollback' else '' end",
            ]) }},
            ''
        ) as failure_evidence_list,
        nullif(
            {{ dbt.concat([
                "case when rework_defect_key then ',defect_key' else '' end",
                "case when rework_fix_forward then ',fix_forward' else '' end",
                "case when rework_hotfix then ',hotfix' else '' end",
                "case when rework_revert then ',revert' else '' end",
                "case when rework_rollback then ',rollback' else '' end",
            ]) }},
            ''
        ) as rework_evidence_list
    from evidence
)

select
    deployment_id,
    deployment_kind,
    release_id,
    is_seed,
    is_rollback,
    is_redeploy,
    is_change_failure,
    substring(failure_evidence_list, 2) as failure_evidence,
    rework_evidence_list is not null as is_rework,
    substring(rework_evidence_list, 2) as rework_evidence,
    case when has_incident then incident_count else 0 end as incident_count,
    case when is_change_failure then recovered_at end as recovered_at,
    case when is_change_failure then {{ minutes_between('deployed_at', 'recovered_at') }} end
        as recovery_minutes
from final
