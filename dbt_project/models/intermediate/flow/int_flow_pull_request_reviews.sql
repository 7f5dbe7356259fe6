{#-
  One row per pull request review that counts for the flow (docs/metrics.md, Flow): submitted (not PENDING), by
  someone other than the pull request's author, and not by a bot (user.type 'Bot' or a login ending in '[bot]').
  The review milestones (int_flow_pull_requests) and the review teams (int_flow_pull_request_review_teams) read
  these rows, so both count the same reviews.
-#}
with pull_requests as (
    select * from {{ ref('stg_github__pull_requests') }}
)

select
    reviews.repository,
    reviews.pull_request_number,
    reviews.review_id,
    reviews.state,
    reviews.submitted_at,
    reviews.reviewer_login
from {{ ref('stg_github__pull_request_reviews') }} as reviews
inner join pull_requests
    on pull_requests.repository = reviews.repository
    and pull_requests.pull_request_number = reviews.pull_request_number
where reviews.submitted_at is not null
    and upper(coalesce(reviews.state, '')) <> 'PENDING'
    and coalesce(reviews.reviewer_type, 'User') <> 'Bot'
    and coalesce(reviews.reviewer_login, '') not like '%[bot]'
    and coalesce(lower(reviews.reviewer_login), '') <> coalesce(lower(pull_requests.author_login), '-')
