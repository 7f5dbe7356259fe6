{#-
  One row per deployed commit (a commit of a change set), with its pull request and start time.
  started_at: for the merge commit of a merged pull request (squash commit, last rebased commit or merge
  commit), the earliest author date among that pull request's commits; for every other commit, its own author date.
-#}
with change_sets as (
    select * from {{ ref('int_deployment_change_sets') }}
),

merged_prs as (
    select repository, pull_request_number, lower(merge_commit_sha) as merge_commit_sha
    from {{ ref('stg_github__pull_requests') }}
    where is_merged and merge_commit_sha is not null
),

pr_first_authored as (
    select repository, pull_request_number, min(authored_at) as first_authored_at
    from {{ ref('stg_github__pull_request_commits') }}
    group by 1, 2
),

merge_commit_prs as (
    select
        merged_prs.repository,
        merged_prs.merge_commit_sha,
        min(merged_prs.pull_request_number) as pull_request_number,
        min(pr_first_authored.first_authored_at) as first_authored_at
    from merged_prs
    left join pr_first_authored
        on pr_first_authored.repository = merged_prs.repository
        and pr_first_authored.pull_request_number = merged_prs.pull_request_number
    group by 1, 2
),

member_commit_prs as (
    select pr_commits.repository, lower(pr_commits.commit_sha) as commit_sha,
           min(pr_commits.pull_request_number) as pull_request_number
    from {{ ref('stg_github__pull_request_commits') }} as pr_commits
    inner join merged_prs
        on merged_prs.repository = pr_commits.repository
        and merged_prs.pull_request_number = pr_commits.pull_request_number
    group by 1, 2
),

joined as (
    select
        change_sets.repository,
        change_sets.commit_sha,
        change_sets.deployment_id,
        change_sets.deployed_at,
        coalesce(merge_commit_prs.pull_request_number, member_commit_prs.pull_request_number)
            as pull_request_number,
        merge_commit_prs.merge_commit_sha is not null as is_pull_request_merge_commit,
        case
            when merge_commit_prs.merge_commit_sha is not null
                then coalesce(merge_commit_prs.first_authored_at, commits.authored_at)
            else commits.authored_at
        end as started_at,
        commits.message
    from change_sets
    left join merge_commit_prs
        on merge_commit_prs.repository = change_sets.repository
        and merge_commit_prs.merge_commit_sha = change_sets.commit_sha
    left join member_commit_prs
        on member_commit_prs.repository = change_sets.repository
        and member_commit_prs.commit_sha = change_sets.commit_sha
    left join {{ ref('int_commits') }} as commits
        on commits.repository = change_sets.repository
        and commits.commit_sha = change_sets.commit_sha
),

final as (
    select
        joined.*,
        {{ minutes_between('started_at', 'deployed_at') }} as lead_time_minutes,
        lower({{ regex_extract('message', "'This reverts commit ([0-9a-fA-F]{7,40})'") }}) as reverted_commit_sha
    from joined
)

select
    repository,
    commit_sha,
    deployment_id,
    deployed_at,
    pull_request_number,
    is_pull_request_merge_commit,
    started_at,
    lead_time_minutes,
    coalesce(lead_time_minutes < 0, false) as is_negative_lead_time,
    reverted_commit_sha,
    reverted_commit_sha is not null as is_revert
from final
