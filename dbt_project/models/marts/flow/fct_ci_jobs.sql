{#-
  One row per job attempt of a completed CI workflow run (GITHUB_CI_JOBS; empty when off): the pipeline's
  stages the way the jobs name them. stage: build, unit_tests, integration_tests, security_scan, deploy or
  other, from the job name (docs/metrics.md, Flow, "CI jobs"). queue_minutes: job created -> started (waiting
  for a runner); run_minutes: started -> completed. A negative span (clock skew) is NULL.
-#}
with jobs as (
    select * from {{ ref('stg_github__workflow_jobs') }}
),

runs as (
    select repository, workflow_run_id, event, lower(head_sha) as commit_sha
    from {{ ref('stg_github__workflow_runs') }}
),

staged as (
    select
        jobs.*,
        runs.event,
        runs.commit_sha,
        case
            when lower(jobs.job_name) like '%security%' or lower(jobs.job_name) like '%scan%'
                or lower(jobs.job_name) like '%codeql%' then 'security_scan'
            when lower(jobs.job_name) like '%integration%' or lower(jobs.job_name) like '%e2e%'
                then 'integration_tests'
            when lower(jobs.job_name) like '%unit%' or lower(jobs.job_name) like '%test%' then 'unit_tests'
            when lower(jobs.job_name) like '%deploy%' or lower(jobs.job_name) like '%release%' then 'deploy'
            when lower(jobs.job_name) like '%build%' or lower(jobs.job_name) like '%compile%' then 'build'
            else 'other'
        end as stage
    from jobs
    left join runs
        on runs.repository = jobs.repository
        and runs.workflow_run_id = jobs.workflow_run_id
)

select
    cast(staged.workflow_job_id as {{ type_text() }}) as workflow_job_id,
    cast(staged.workflow_run_id as {{ type_text() }}) as workflow_run_id,
    staged.repository,
    services.service,
    services.team,
    staged.workflow_name,
    staged.job_name,
    staged.stage,
    staged.event,
    staged.commit_sha,
    cast(coalesce(staged.run_attempt, 1) as integer) as run_attempt,
    coalesce(staged.run_attempt, 1) > 1 as is_rerun,
    staged.conclusion,
    staged.runner_name,
    staged.created_at,
    staged.started_at,
    staged.completed_at,
    cast(case when staged.started_at >= staged.created_at
        then {{ minutes_between('staged.created_at', 'staged.started_at') }} end as double precision) as queue_minutes,
    cast(case when staged.completed_at >= staged.started_at
        then {{ minutes_between('staged.started_at', 'staged.completed_at') }} end as double precision) as run_minutes
from staged
left join {{ ref('int_repository_primary_services') }} as services on services.repository = staged.repository
where staged.status = 'completed'
