{#-
  One row per merged pull request whose merge commit (squash commit, last rebased commit or merge commit) was
  shipped by a release: the value stream of the pull request as a whole. started_at is the earliest author date
  among its commits (fct_changes' rule for merge commits), so lead_time_minutes is the pull request's lead time.
-#}
select
    deployment_id,
    repository,
    service,
    team,
    pull_request_number,
    merge_sha,
    is_draft,
    started_at,
    ready_for_review_at,
    first_review_at,
    approved_at,
    merged_at,
    merge_ci_finished_at,
    staged_at,
    deployed_at,
    is_staging_bypass,
    lead_time_minutes,
    stage_development_minutes,
    stage_review_minutes,
    stage_testing_minutes,
    stage_staging_minutes,
    stage_production_minutes,
    pickup_minutes,
    review_minutes,
    merge_wait_minutes,
    review_rounds,
    pr_ci_runs,
    pr_ci_attempts,
    pr_ci_feedback_minutes,
    merge_ci_feedback_minutes
from {{ ref('fct_value_stream') }}
where has_pull_request and commit_sha = merge_sha
