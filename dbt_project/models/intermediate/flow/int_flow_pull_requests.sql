{#-
  One row per pull request (repository + number) with its review milestones.
  The reviews that count are int_flow_pull_request_reviews' (not the author's, not a bot's). first_review_at:
  the first such review of any state; approved_at: the first APPROVED one; review_rounds: the CHANGES_REQUESTED ones.
  ready_for_review_at (docs/metrics.md, Flow, "Ready for review"): for a pull request opened as a draft (its
  first draft event is ready_for_review), the LAST ready_for_review event at or before the first review or the
  merge, whichever came first; else (opened ready, no events fetched, or none before that) created_at.
  additions/deletions: GET pulls/{n} or GraphQL (stg_github__pull_request_sizes), else the list's (NULL).
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

cutoffs as (
    select
        pull_requests.repository,
        pull_requests.pull_request_number,
        case
            when review_milestones.first_review_at is null then pull_requests.merged_at
            when pull_requests.merged_at is null then review_milestones.first_review_at
            when review_milestones.first_review_at < pull_requests.merged_at then review_milestones.first_review_at
            else pull_requests.merged_at
        end as review_or_merge_at
    from pull_requests
    left join review_milestones
        on review_milestones.repository = pull_requests.repository
        and review_milestones.pull_request_number = pull_requests.pull_request_number
),

draft_events as (
    select
        repository,
        pull_request_number,
        event,
        created_at,
        row_number() over (
            partition by repository, pull_request_number order by created_at, event_id
        ) as event_order
    from {{ ref('stg_github__pull_request_events') }}
    where event in ('ready_for_review', 'convert_to_draft') and created_at is not null
),

draft_ready as (
    select
        draft_events.repository,
        draft_events.pull_request_number,
        max(case when draft_events.event_order = 1 and draft_events.event = 'ready_for_review' then 1 else 0 end)
            = 1 as is_opened_as_draft,
        max(case when draft_events.event = 'ready_for_review'
            and (cutoffs.review_or_merge_at is null or draft_events.created_at <= cutoffs.review_or_merge_at)
            then draft_events.created_at end) as last_ready_at
    from draft_events
    left join cutoffs
        on cutoffs.repository = draft_events.repository
        and cutoffs.pull_request_number = draft_events.pull_request_number
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
    coalesce(draft_ready.is_opened_as_draft, false) as is_opened_as_draft,
    case when draft_ready.is_opened_as_draft and draft_ready.last_ready_at is not null
        then draft_ready.last_ready_at else pull_requests.created_at end as ready_for_review_at,
    review_milestones.first_review_at,
    review_milestones.approved_at,
    cast(coalesce(review_milestones.review_rounds, 0) as integer) as review_rounds,
    cast(coalesce(review_milestones.reviewer_count, 0) as integer) as reviewer_count,
    pull_requests.is_merged,
    pull_requests.merged_at,
    pull_requests.closed_at,
    lower(pull_requests.merge_commit_sha) as merge_commit_sha,
    lower(pull_requests.head_sha) as head_sha,
    coalesce(sizes.additions, pull_requests.additions) as additions,
    coalesce(sizes.deletions, pull_requests.deletions) as deletions
from pull_requests
left join review_milestones
    on review_milestones.repository = pull_requests.repository
    and review_milestones.pull_request_number = pull_requests.pull_request_number
left join first_commits
    on first_commits.repository = pull_requests.repository
    and first_commits.pull_request_number = pull_requests.pull_request_number
left join draft_ready
    on draft_ready.repository = pull_requests.repository
    and draft_ready.pull_request_number = pull_requests.pull_request_number
left join {{ ref('stg_github__pull_request_sizes') }} as sizes
    on sizes.repository = pull_requests.repository
    and sizes.pull_request_number = pull_requests.pull_request_number
left join {{ ref('int_repository_primary_services') }} as services on services.repository = pull_requests.repository
