{#-
  One row per (repository, commit sha) that CI ran on: how testing went for that sha.
  feedback_minutes: from the first run's creation (the push) to the first result of a first attempt (the first
  time the author learned anything); pipeline_minutes: from the first run's creation to the last run's end
  (every workflow and re-run, i.e. until CI settled); attempts: runs + re-runs.
-#}
with runs as (
    select * from {{ ref('int_flow_ci_runs') }}
),

by_commit as (
    select
        repository,
        commit_sha,
        count(*) as runs,
        sum(run_attempts) as attempts,
        count(case when run_attempts > 1 then 1 end) as rerun_runs,
        min(created_at) as first_run_created_at,
        min(first_result_at) as first_result_at,
        max(finished_at) as finished_at,
        count(case when not is_completed then 1 end) as runs_in_progress,
        count(case when is_completed and conclusion <> 'success' then 1 end) as runs_not_successful,
        max(queue_minutes) as queue_minutes,
        max(run_minutes) as run_minutes
    from runs
    group by 1, 2
)

select
    repository,
    commit_sha,
    cast(runs as integer) as runs,
    cast(attempts as integer) as attempts,
    cast(rerun_runs as integer) as rerun_runs,
    first_run_created_at,
    first_result_at,
    case when runs_in_progress = 0 then finished_at end as finished_at,
    runs_in_progress = 0 and runs_not_successful = 0 as is_passed,
    cast(queue_minutes as double precision) as queue_minutes,
    cast(run_minutes as double precision) as run_minutes,
    cast({{ minutes_between('first_run_created_at', 'first_result_at') }} as double precision) as feedback_minutes,
    case
        when runs_in_progress = 0
            then cast({{ minutes_between('first_run_created_at', 'finished_at') }} as double precision)
    end as pipeline_minutes
from by_commit
