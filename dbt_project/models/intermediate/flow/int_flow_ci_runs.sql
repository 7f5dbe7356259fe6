{#-
  One row per CI workflow run: runs triggered by code (event push, pull_request, pull_request_target or
  merge_group); deployment, schedule and manual runs are not CI. GitHub lists a run once, as its latest attempt:
  run_attempt > 1 means it was re-run, and run_started_at/updated_at are the latest attempt's.
  queue_minutes (created -> started) is known for first attempts only; run_minutes (started -> last update) for
  completed runs. A negative span (clock skew) is NULL, never a negative duration.
  With jobs (GITHUB_CI_JOBS, stg_github__workflow_jobs holds every attempt) the first attempt is known even for
  a re-run run: queue_minutes = created -> first job of attempt 1 started, first_result_at = the last job of
  attempt 1 completed (docs/metrics.md, Flow, "CI jobs").
-#}
with runs as (
    select * from {{ ref('stg_github__workflow_runs') }}
    where event in ('push', 'pull_request', 'pull_request_target', 'merge_group')
        and head_sha is not null
),

first_attempt_jobs as (
    select
        repository,
        workflow_run_id,
        min(started_at) as first_job_started_at,
        max(completed_at) as last_job_completed_at,
        count(case when completed_at is null then 1 end) as unfinished_jobs
    from {{ ref('stg_github__workflow_jobs') }}
    where coalesce(run_attempt, 1) = 1
    group by 1, 2
),

measured as (
    select
        runs.repository,
        services.service,
        services.team,
        runs.workflow_run_id,
        runs.workflow_name,
        runs.event,
        lower(runs.head_sha) as commit_sha,
        runs.created_at,
        runs.run_started_at,
        runs.updated_at,
        runs.status,
        runs.conclusion,
        cast(coalesce(runs.run_attempt, 1) as integer) as run_attempts,
        runs.status = 'completed' as is_completed,
        case when jobs.unfinished_jobs = 0 then jobs.last_job_completed_at end as first_attempt_completed_at,
        case
            when jobs.first_job_started_at >= runs.created_at
                then {{ minutes_between('runs.created_at', 'jobs.first_job_started_at') }}
            when jobs.workflow_run_id is null and coalesce(runs.run_attempt, 1) = 1
                and runs.run_started_at >= runs.created_at
                then {{ minutes_between('runs.created_at', 'runs.run_started_at') }}
        end as queue_minutes,
        case
            when runs.status = 'completed' and runs.updated_at >= coalesce(runs.run_started_at, runs.created_at)
                then {{ minutes_between('coalesce(runs.run_started_at, runs.created_at)', 'runs.updated_at') }}
        end as run_minutes
    from runs
    left join first_attempt_jobs as jobs
        on jobs.repository = runs.repository
        and jobs.workflow_run_id = runs.workflow_run_id
    left join {{ ref('int_repository_primary_services') }} as services on services.repository = runs.repository
)

select
    *,
    case when is_completed then updated_at end as finished_at,
    case
        when is_completed and run_attempts = 1 then updated_at
        when first_attempt_completed_at >= created_at then first_attempt_completed_at
    end as first_result_at
from measured
