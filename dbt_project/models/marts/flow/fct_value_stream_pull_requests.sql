{#-
  One row per merged pull request whose merge commit (squash commit, last rebased commit or merge commit) was
  shipped by a release: the value stream of the pull request as a whole. started_at is the earliest author date
  among its commits (fct_changes' rule for merge commits), so lead_time_minutes is the pull request's lead time.
  lines_changed = additions + deletions, NULL (not 0) when the extraction path did not fetch them.
-#}
select
    value_stream.deployment_id,
    value_stream.repository,
    value_stream.service,
    value_stream.team,
    value_stream.pull_request_number,
    value_stream.merge_sha,
    value_stream.is_draft,
    value_stream.started_at,
    value_stream.ready_for_review_at,
    value_stream.first_review_at,
    value_stream.approved_at,
    value_stream.merged_at,
    value_stream.merge_ci_finished_at,
    value_stream.staged_at,
    value_stream.deployed_at,
    value_stream.is_staging_bypass,
    value_stream.lead_time_minutes,
    value_stream.stage_development_minutes,
    value_stream.stage_review_minutes,
    value_stream.stage_testing_minutes,
    value_stream.stage_staging_minutes,
    value_stream.stage_production_minutes,
    value_stream.pickup_minutes,
    value_stream.review_minutes,
    value_stream.merge_wait_minutes,
    value_stream.review_rounds,
    value_stream.pr_ci_runs,
    value_stream.pr_ci_attempts,
    value_stream.pr_ci_feedback_minutes,
    value_stream.merge_ci_feedback_minutes,
    cast(pull_requests.additions as integer) as additions,
    cast(pull_requests.deletions as integer) as deletions,
    cast(pull_requests.additions + pull_requests.deletions as integer) as lines_changed,
    review_teams.author_team,
    review_teams.review_team_scope
from {{ ref('fct_value_stream') }} as value_stream
left join {{ ref('int_flow_pull_requests') }} as pull_requests
    on pull_requests.repository = value_stream.repository
    and pull_requests.pull_request_number = value_stream.pull_request_number
left join {{ ref('int_flow_pull_request_review_teams') }} as review_teams
    on review_teams.repository = value_stream.repository
    and review_teams.pull_request_number = value_stream.pull_request_number
where value_stream.has_pull_request and value_stream.commit_sha = value_stream.merge_sha
