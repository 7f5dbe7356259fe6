{#-
  One row per flow event, with the time it is bucketed by (local_at, on the reporting time zone's calendar), its
  service and team, the measures it carries and the key of its evidence row:
    change                 a change shipped by a release (fct_value_stream), at deployed_at: lead time, stage
                           durations and each stage's share of the lead time
    release                a release (int_flow_releases), at deployed_at: batch size, staging bypass, monitoring
    pull_request_merged    a merged pull request, at merged_at: lines changed, open -> merged
    ci_run                 a CI workflow run, at created_at: outcome, re-run, queue and run time
    ci_commit              a sha CI ran on, at its first run: feedback and pipeline time
    production_deployment  a production deployment created, at created_at: automated or manual
-#}
with value_stream as (
    select * from {{ ref('fct_value_stream') }}
),

changes as (
    select
        service,
        team,
        'change' as kind,
        deployed_at as event_at,
        cast(deployment_id as {{ type_text() }}) || ':' || commit_sha as evidence_key,
        lead_time_minutes,
        stage_development_minutes,
        stage_review_minutes,
        stage_testing_minutes,
        stage_staging_minutes,
        stage_production_minutes,
        pickup_minutes,
        review_minutes,
        merge_wait_minutes,
        cast(review_rounds as double precision) as review_rounds,
        merge_to_staging_minutes,
        staging_to_production_minutes
    from value_stream
),

release_values as (
    select
        deployment_id,
        count(distinct pull_request_number) as pull_requests,
        max(case when is_release_staging_bypass then 1 else 0 end) as is_staging_bypass,
        max(time_to_detect_minutes) as time_to_detect_minutes,
        max(time_to_acknowledge_minutes) as time_to_acknowledge_minutes,
        max(time_to_resolve_minutes) as time_to_resolve_minutes
    from value_stream
    group by 1
),

releases as (
    select
        releases.service,
        releases.team,
        'release' as kind,
        releases.deployed_at as event_at,
        cast(releases.deployment_id as {{ type_text() }}) as evidence_key,
        cast(releases.change_count as double precision) as batch_changes,
        cast(coalesce(release_values.pull_requests, 0) as double precision) as batch_pull_requests,
        coalesce(release_values.is_staging_bypass, 1) as is_staging_bypass,
        release_values.time_to_detect_minutes,
        release_values.time_to_acknowledge_minutes,
        release_values.time_to_resolve_minutes
    from {{ ref('int_flow_releases') }} as releases
    left join release_values on release_values.deployment_id = releases.deployment_id
),

merged_pull_requests as (
    select
        service,
        team,
        'pull_request_merged' as kind,
        merged_at as event_at,
        repository || '#' || cast(pull_request_number as {{ type_text() }}) as evidence_key,
        cast(additions + deletions as double precision) as lines_changed,
        case when merged_at >= created_at then {{ minutes_between('created_at', 'merged_at') }} end
            as pull_request_open_minutes
    from {{ ref('int_flow_pull_requests') }}
    where is_merged and merged_at is not null
),

ci_runs as (
    select
        service,
        team,
        'ci_run' as kind,
        created_at as event_at,
        cast(workflow_run_id as {{ type_text() }}) as evidence_key,
        case when is_completed then 1 else 0 end as is_completed,
        case when is_completed and conclusion = 'success' then 1 else 0 end as is_success,
        case when run_attempts > 1 then 1 else 0 end as is_rerun,
        queue_minutes,
        run_minutes
    from {{ ref('int_flow_ci_runs') }}
),

ci_commits as (
    select
        services.service,
        services.team,
        'ci_commit' as kind,
        ci.first_run_created_at as event_at,
        ci.repository || '@' || ci.commit_sha as evidence_key,
        ci.feedback_minutes,
        ci.pipeline_minutes
    from {{ ref('int_flow_ci_commits') }} as ci
    left join {{ ref('int_repository_primary_services') }} as services on services.repository = ci.repository
),

production_deployments as (
    select
        coalesce(deployments.production_service, services.service) as service,
        coalesce(owners.team, services.team) as team,
        'production_deployment' as kind,
        deployments.created_at as event_at,
        cast(deployments.deployment_id as {{ type_text() }}) as evidence_key,
        case when deployments.is_automated then 1 when not deployments.is_automated then 0 end as is_automated
    from {{ ref('int_flow_deployment_creators') }} as deployments
    left join {{ ref('int_repository_primary_services') }} as services on services.repository = deployments.repository
    left join {{ ref('dim_services') }} as owners on owners.service = deployments.production_service
    where deployments.environment_stage = 'production'
),

{%- set measures = [
    'lead_time_minutes', 'stage_development_minutes', 'stage_review_minutes', 'stage_testing_minutes',
    'stage_staging_minutes', 'stage_production_minutes', 'pickup_minutes', 'review_minutes', 'merge_wait_minutes',
    'review_rounds', 'merge_to_staging_minutes', 'staging_to_production_minutes', 'batch_changes',
    'batch_pull_requests', 'time_to_detect_minutes', 'time_to_acknowledge_minutes', 'time_to_resolve_minutes',
    'lines_changed', 'pull_request_open_minutes', 'queue_minutes', 'run_minutes', 'feedback_minutes',
    'pipeline_minutes'] -%}
{%- set flags = ['is_staging_bypass', 'is_completed', 'is_success', 'is_rerun', 'is_automated'] -%}
{%- set sources = {
    'changes': ['lead_time_minutes', 'stage_development_minutes', 'stage_review_minutes', 'stage_testing_minutes',
                'stage_staging_minutes', 'stage_production_minutes', 'pickup_minutes', 'review_minutes',
                'merge_wait_minutes', 'review_rounds', 'merge_to_staging_minutes', 'staging_to_production_minutes'],
    'releases': ['batch_changes', 'batch_pull_requests', 'is_staging_bypass', 'time_to_detect_minutes',
                 'time_to_acknowledge_minutes', 'time_to_resolve_minutes'],
    'merged_pull_requests': ['lines_changed', 'pull_request_open_minutes'],
    'ci_runs': ['is_completed', 'is_success', 'is_rerun', 'queue_minutes', 'run_minutes'],
    'ci_commits': ['feedback_minutes', 'pipeline_minutes'],
    'production_deployments': ['is_automated'],
} %}

unioned as (
    {%- for source, columns in sources.items() %}
    select
        coalesce(service, 'unmapped') as service,
        team,
        kind,
        event_at,
        evidence_key,
        {%- for measure in measures %}
        {% if measure in columns %}cast({{ measure }} as double precision){% else %}cast(null as double precision){% endif %} as {{ measure }},
        {%- endfor %}
        {%- for flag in flags %}
        {% if flag in columns %}cast({{ flag }} as integer){% else %}cast(null as integer){% endif %} as {{ flag }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ source }}
    where event_at is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

final as (
    select
        unioned.*,
        {{ to_reporting_tz('event_at') }} as local_at,
        {%- for stage in ['development', 'review', 'testing', 'staging', 'production'] %}
        case when lead_time_minutes > 0
            then coalesce(stage_{{ stage }}_minutes, 0) / lead_time_minutes end as share_{{ stage }}{{ ',' if not loop.last }}
        {%- endfor %}
    from unioned
)

select * from final
