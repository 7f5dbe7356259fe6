{#-
  One row per merged pull request: the author's team and the teams of its reviewers (the reviews that count,
  int_flow_pull_request_reviews), by stg_team_members (docs/metrics.md, "Siloed operations"). review_team_scope:
    inside_team  the author maps to a team and every reviewer maps to that same team
    cross_team   the author maps to a team and at least one reviewer maps to another team
    unmapped     the author maps to no team, or a reviewer maps to none (and none is of another team)
    NULL         no review counts (nothing to judge)
-#}
with pull_requests as (
    select repository, pull_request_number, service, team, author_login, merged_at
    from {{ ref('int_flow_pull_requests') }}
    where is_merged and merged_at is not null
),

members as (
    select github_login, team from {{ ref('stg_team_members') }} where github_login is not null
),

reviewers as (
    select distinct repository, pull_request_number, lower(reviewer_login) as reviewer_login
    from {{ ref('int_flow_pull_request_reviews') }}
),

counted as (
    select
        pull_requests.repository,
        pull_requests.pull_request_number,
        count(*) as reviewers,
        count(case when lower(reviewer_members.team) = lower(author_members.team) then 1 end) as reviewers_inside_team,
        count(case when lower(reviewer_members.team) <> lower(author_members.team) then 1 end) as reviewers_other_team,
        count(case when reviewer_members.team is null then 1 end) as reviewers_unmapped
    from pull_requests
    inner join reviewers
        on reviewers.repository = pull_requests.repository
        and reviewers.pull_request_number = pull_requests.pull_request_number
    left join members as author_members on author_members.github_login = lower(pull_requests.author_login)
    left join members as reviewer_members on reviewer_members.github_login = reviewers.reviewer_login
    group by 1, 2
)

select
    pull_requests.repository,
    pull_requests.pull_request_number,
    pull_requests.service,
    pull_requests.team,
    pull_requests.merged_at,
    author_members.team as author_team,
    cast(coalesce(counted.reviewers, 0) as integer) as reviewers,
    cast(coalesce(counted.reviewers_inside_team, 0) as integer) as reviewers_inside_team,
    cast(coalesce(counted.reviewers_other_team, 0) as integer) as reviewers_other_team,
    cast(coalesce(counted.reviewers_unmapped, 0) as integer) as reviewers_unmapped,
    case
        when counted.reviewers is null then null
        when author_members.team is null then 'unmapped'
        when counted.reviewers_other_team > 0 then 'cross_team'
        when counted.reviewers_unmapped > 0 then 'unmapped'
        else 'inside_team'
    end as review_team_scope
from pull_requests
left join counted
    on counted.repository = pull_requests.repository
    and counted.pull_request_number = pull_requests.pull_request_number
left join members as author_members on author_members.github_login = lower(pull_requests.author_login)
