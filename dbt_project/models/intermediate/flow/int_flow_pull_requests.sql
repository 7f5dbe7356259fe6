{#-
  One row per pull request (repository + number) with its review milestones.
  The reviews that count are int_flow_pull_request_reviews' (not the author's, not a bot's). first_review_at:
  the first such review of any state; approved_at: the first APPROVED one; review_rounds: the CHANGES_REQUESTED ones.
  GitHub's pull request object has no "ready for review" time: ready_for_review_at is created_at (a draft's
  wait before it was marked ready is counted as review time; docs/metrics.md, Flow).
-#}
with pull_requests as (
    select * from {{ ref('stg_github__pull_requests') }}
),

reviews as (
    select * from {{ ref('int_flow_pull_request_reviews') }}
),

review_milestones as (
    select
        repository,
        pull_request_number,
        min(submitted_at) as first_review_at,
        min(case when upper(state) = 'APPROVED' then submitted_at end) as approved_at,
        count(case when upper(state) = 'CHANGES_REQUESTED' then 1 end) as review_rounds,
        count(distinct lower(reviewer_login)) as reviewer_count
    from reviews
    group by 1, 2
),

first_commits as (
    select repository, pull_request_number, min(authored_at) as first_commit_authored_at
    from {{ ref('stg_github__pull_request_commits') }}
    group by 1, 2
)

select
    pull_requests.repository,
    services.service,
    services.team,
    pull_requests.pull_request_number,
    pull_requests.author_login,
    pull_requests.is_draft,
    first_commits.first_commit_authored_at,
    pull_requests.created_at,
    pull_requests.created_at as ready_for_review_at,
    review_milestones.first_review_at,
    review_milestones.approved_at,
    cast(coalesce(review_milestones.review_rounds, 0) as integer) as review_rounds,
    cast(coalesce(review_milestones.reviewer_count, 0) as integer) as reviewer_count,
    pull_requests.is_merged,
    pull_requests.merged_at,
    pull_requests.closed_at,
    lower(pull_requests.merge_commit_sha) as merge_commit_sha,
    lower(pull_requests.head_sha) as head_sha,
    pull_requests.additions,
    pull_requests.deletions
from pull_requests
left join review_milestones
    on review_milestones.repository = pull_requests.repository
    and review_milestones.pull_request_number = pull_requests.pull_request_number
left join first_commits
    on first_commits.repository = pull_requests.repository
    and first_commits.pull_request_number = pull_requests.pull_request_number
left join {{ ref('int_repository_primary_services') }} as services on services.repository = pull_requests.repository
