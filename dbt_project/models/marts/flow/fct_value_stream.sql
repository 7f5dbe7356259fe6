{#-
  One row per change shipped by a release (int_flow_shipped_changes): the stream's milestones, the stage
  durations that partition its lead time, and the review, testing, staging and monitoring detail.
  Partition (docs/metrics.md, Flow): milestones started -> PR ready -> merged -> merge-sha CI finished ->
  staged -> deployed; each present milestone is clamped into [previous present milestone, deployed_at]; a
  missing one makes its stage NULL and its time goes to the next present stage; so the non-NULL stages are
  never negative and sum to lead_time_minutes exactly.
-#}
with changes as (
    select * from {{ ref('int_flow_shipped_changes') }}
),

pull_requests as (
    select * from {{ ref('int_flow_pull_requests') }}
),

ci as (
    select * from {{ ref('int_flow_ci_commits') }}
),

staged as (
    select
        changes.repository,
        changes.commit_sha,
        changes.deployment_id,
        min(staging.deployed_at) as staged_at
    from changes
    inner join {{ ref('int_flow_staging_reachable_commits') }} as reached
        on reached.repository = changes.repository
        and reached.commit_sha = changes.commit_sha
    inner join {{ ref('int_flow_staging_deployments') }} as staging
        on staging.deployment_id = reached.deployment_id
        and staging.repository = reached.repository
    where staging.deployed_at <= changes.deployed_at
    group by 1, 2, 3
),

staging_deployments as (
    select staged.*, min(staging.deployment_id) as staging_deployment_id
    from staged
    inner join {{ ref('int_flow_staging_reachable_commits') }} as reached
        on reached.repository = staged.repository
        and reached.commit_sha = staged.commit_sha
    inner join {{ ref('int_flow_staging_deployments') }} as staging
        on staging.deployment_id = reached.deployment_id
        and staging.repository = reached.repository
        and staging.deployed_at = staged.staged_at
    group by 1, 2, 3, 4
),

release_bypass as (
    select changes.deployment_id, count(staging_deployments.staged_at) < count(*) as is_staging_bypass
    from changes
    left join staging_deployments
        on staging_deployments.repository = changes.repository
        and staging_deployments.commit_sha = changes.commit_sha
        and staging_deployments.deployment_id = changes.deployment_id
    group by 1
),

first_incidents as (
    select
        incidents.caused_by_deployment_id as deployment_id,
        incidents.incident_id,
        incidents.created_at,
        incidents.resolved_at,
        responses.acknowledged_at,
        row_number() over (
            partition by incidents.caused_by_deployment_id order by incidents.created_at, incidents.incident_id
        ) as rank_in_release
    from {{ ref('fct_incidents') }} as incidents
    left join {{ ref('int_flow_incident_responses') }} as responses
        on responses.incident_id = incidents.incident_id
    where incidents.caused_by_deployment_id is not null
),

joined as (
    select
        changes.*,
        changes.lead_time_minutes is not null and not changes.is_negative_lead_time as has_valid_lead_time,
        pull_requests.pull_request_number is not null as has_pull_request,
        pull_requests.is_draft,
        pull_requests.ready_for_review_at,
        pull_requests.first_review_at,
        pull_requests.approved_at,
        pull_requests.merged_at,
        pull_requests.review_rounds,
        pull_requests.head_sha as pull_request_head_sha,
        coalesce(pull_requests.merge_commit_sha, changes.commit_sha) as merge_sha,
        pr_ci.runs as pr_ci_runs,
        pr_ci.attempts as pr_ci_attempts,
        pr_ci.queue_minutes as pr_ci_queue_minutes,
        pr_ci.run_minutes as pr_ci_run_minutes,
        pr_ci.feedback_minutes as pr_ci_feedback_minutes,
        merge_ci.runs as merge_ci_runs,
        merge_ci.attempts as merge_ci_attempts,
        merge_ci.queue_minutes as merge_ci_queue_minutes,
        merge_ci.run_minutes as merge_ci_run_minutes,
        merge_ci.feedback_minutes as merge_ci_feedback_minutes,
        merge_ci.finished_at as merge_ci_finished_at,
        staging_deployments.staging_deployment_id,
        staging_deployments.staged_at,
        coalesce(release_bypass.is_staging_bypass, true) as is_release_staging_bypass,
        first_incidents.incident_id as first_incident_id,
        first_incidents.created_at as incident_created_at,
        first_incidents.acknowledged_at as incident_acknowledged_at,
        first_incidents.resolved_at as incident_resolved_at
    from changes
    left join pull_requests
        on pull_requests.repository = changes.repository
        and pull_requests.pull_request_number = changes.pull_request_number
        and pull_requests.is_merged
    left join ci as pr_ci
        on pr_ci.repository = changes.repository
        and pr_ci.commit_sha = pull_requests.head_sha
    left join ci as merge_ci
        on merge_ci.repository = changes.repository
        and merge_ci.commit_sha = coalesce(pull_requests.merge_commit_sha, changes.commit_sha)
    left join staging_deployments
        on staging_deployments.repository = changes.repository
        and staging_deployments.commit_sha = changes.commit_sha
        and staging_deployments.deployment_id = changes.deployment_id
    left join release_bypass on release_bypass.deployment_id = changes.deployment_id
    left join first_incidents
        on first_incidents.deployment_id = changes.deployment_id
        and first_incidents.rank_in_release = 1
),

{# Clamp each present milestone into [previous present milestone, deployed_at]; c_* = clamped, p_* = the
    latest present clamped milestone so far. Only rows with a valid (non-negative) lead time get stages. One CTE
    per milestone, each clamping against the one before: (name, milestone, upper bound; staged_at needs none, as
    staging_deployments only keeps staging deployments no later than the release). -#}
{%- set milestones = [
    ('ready', 'ready_for_review_at', 'deployed_at'),
    ('merged', 'merged_at', 'deployed_at'),
    ('tested', 'merge_ci_finished_at', 'deployed_at'),
    ('staged', 'staged_at', none),
] %}
{%- set clamp = namespace(source='joined', previous=none, floor='started_at') %}
{%- for name, milestone, ceiling in milestones %}
clamp_{{ name }} as (
    select
        {{ clamp.source }}.*,
        {%- if clamp.previous %}
        {{ clamp.floor }} as p_{{ clamp.previous }},
        {%- endif %}
        case when {{ milestone }} is not null and has_valid_lead_time then
            case when {{ milestone }} < {{ clamp.floor }} then {{ clamp.floor }}
                 {%- if ceiling %}
                 when {{ milestone }} > {{ ceiling }} then {{ ceiling }}
                 {%- endif %}
                 else {{ milestone }} end
        end as c_{{ name }}
    from {{ clamp.source }}
),
{%- set clamp.floor = 'coalesce(c_' ~ name ~ ', ' ~ ('p_' ~ clamp.previous if clamp.previous else clamp.floor) ~ ')' %}
{%- set clamp.previous = name %}
{%- set clamp.source = 'clamp_' ~ name %}
{% endfor %}

final as (
    select
        clamp_staged.*,
        {{ minutes_between('started_at', 'c_ready') }} as stage_development_minutes,
        {{ minutes_between('p_ready', 'c_merged') }} as stage_review_minutes,
        {{ minutes_between('p_merged', 'c_tested') }} as stage_testing_minutes,
        {{ minutes_between('p_tested', 'c_staged') }} as stage_staging_minutes,
        case when has_valid_lead_time
            then {{ minutes_between('coalesce(c_staged, p_tested)', 'deployed_at') }}
        end as stage_production_minutes,
        case when first_review_at >= ready_for_review_at
            then {{ minutes_between('ready_for_review_at', 'first_review_at') }} end as pickup_minutes,
        case when approved_at >= first_review_at
            then {{ minutes_between('first_review_at', 'approved_at') }} end as review_minutes,
        case when merged_at >= approved_at
            then {{ minutes_between('approved_at', 'merged_at') }} end as merge_wait_minutes,
        case when staged_at >= merged_at
            then {{ minutes_between('merged_at', 'staged_at') }} end as merge_to_staging_minutes,
        case when deployed_at >= staged_at
            then {{ minutes_between('staged_at', 'deployed_at') }} end as staging_to_production_minutes,
        case
            when incident_created_at is null then null
            when incident_created_at <= deployed_at then 0.0
            else {{ minutes_between('deployed_at', 'incident_created_at') }}
        end as time_to_detect_minutes,
        case when incident_acknowledged_at >= incident_created_at
            then {{ minutes_between('incident_created_at', 'incident_acknowledged_at') }}
        end as time_to_acknowledge_minutes,
        case when incident_resolved_at >= incident_created_at
            then {{ minutes_between('incident_created_at', 'incident_resolved_at') }}
        end as time_to_resolve_minutes
    from clamp_staged
)

select
    cast(deployment_id as {{ type_text() }}) as deployment_id,
    repository,
    service,
    team,
    commit_sha,
    cast(pull_request_number as integer) as pull_request_number,
    has_pull_request,
    merge_sha,
    coalesce(is_draft, false) as is_draft,
    started_at,
    ready_for_review_at,
    first_review_at,
    approved_at,
    merged_at,
    merge_ci_finished_at,
    staged_at,
    deployed_at,
    cast(staging_deployment_id as {{ type_text() }}) as staging_deployment_id,
    staged_at is null as is_staging_bypass,
    is_release_staging_bypass,
    cast(case when has_valid_lead_time then lead_time_minutes end as double precision) as lead_time_minutes,
    cast(stage_development_minutes as double precision) as stage_development_minutes,
    cast(stage_review_minutes as double precision) as stage_review_minutes,
    cast(stage_testing_minutes as double precision) as stage_testing_minutes,
    cast(stage_staging_minutes as double precision) as stage_staging_minutes,
    cast(stage_production_minutes as double precision) as stage_production_minutes,
    cast(pickup_minutes as double precision) as pickup_minutes,
    cast(review_minutes as double precision) as review_minutes,
    cast(merge_wait_minutes as double precision) as merge_wait_minutes,
    cast(coalesce(review_rounds, 0) as integer) as review_rounds,
    cast(pr_ci_runs as integer) as pr_ci_runs,
    cast(pr_ci_attempts as integer) as pr_ci_attempts,
    cast(pr_ci_queue_minutes as double precision) as pr_ci_queue_minutes,
    cast(pr_ci_run_minutes as double precision) as pr_ci_run_minutes,
    cast(pr_ci_feedback_minutes as double precision) as pr_ci_feedback_minutes,
    cast(merge_ci_runs as integer) as merge_ci_runs,
    cast(merge_ci_attempts as integer) as merge_ci_attempts,
    cast(merge_ci_queue_minutes as double precision) as merge_ci_queue_minutes,
    cast(merge_ci_run_minutes as double precision) as merge_ci_run_minutes,
    cast(merge_ci_feedback_minutes as double precision) as merge_ci_feedback_minutes,
    cast(merge_to_staging_minutes as double precision) as merge_to_staging_minutes,
    cast(staging_to_production_minutes as double precision) as staging_to_production_minutes,
    cast(first_incident_id as {{ type_text() }}) as first_incident_id,
    cast(time_to_detect_minutes as double precision) as time_to_detect_minutes,
    cast(time_to_acknowledge_minutes as double precision) as time_to_acknowledge_minutes,
    cast(time_to_resolve_minutes as double precision) as time_to_resolve_minutes
from final
