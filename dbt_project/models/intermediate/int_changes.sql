{#-
  One row per (service, deployed commit) (a commit of a change set; a monorepo commit shipped by two services has
  a row for each, is_first_shipment marks the repository's first), with its pull request and start time.
  started_at: for the merge commit of a merged pull request (squash commit, last rebased commit or merge
  commit), the earliest author date among that pull request's commits; for every other commit, its own author date.
  is_duplicate_change: a rewritten copy (force-push amend, cherry-pick) of a commit shipped by an earlier or the
  same release of the same service: same author e-mail, author date and message. The first copy shipped is the change; copies stay rows
  and are left out of every figure. GitHub's REST API gives no patch id, so patch identity is not used.
  data_error: 'in_future' (a start or deployment after the build's now, int_reporting_window), 'before_extract_start' (a start
  before EXTRACT_START_DATE: outside the data, left-censored) or 'negative_lead_time'; lead_time_minutes is NULL
  then, is_negative_lead_time keeps the raw sign.
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
        change_sets.service,
        change_sets.commit_sha,
        change_sets.is_first_shipment,
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
        commits.message,
        commits.author_email,
        commits.authored_at
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

copies as (
    select
        joined.*,
        {{ minutes_between('started_at', 'deployed_at') }} as raw_lead_time_minutes,
        lower({{ regex_extract('message', "'This reverts commit ([0-9a-fA-F]{7,40})'") }}) as reverted_commit_sha,
        case when author_email is not null and authored_at is not null and message is not null then
            row_number() over (
                partition by repository, service, author_email, authored_at, message
                order by deployed_at, deployment_id, commit_sha
            )
        else 1 end as copy_order
    from joined
),

final as (
    select
        copies.*,
        case
            when started_at > reporting_window.now_at or deployed_at > reporting_window.now_at
                then 'in_future'
            when started_at < reporting_window.extract_start_at then 'before_extract_start'
            when raw_lead_time_minutes < 0 then 'negative_lead_time'
        end as data_error
    from copies
    cross join {{ ref('int_reporting_window') }} as reporting_window
)

select
    repository,
    service,
    commit_sha,
    is_first_shipment,
    deployment_id,
    deployed_at,
    pull_request_number,
    is_pull_request_merge_commit,
    started_at,
    case when data_error is null then raw_lead_time_minutes end as lead_time_minutes,
    coalesce(raw_lead_time_minutes < 0, false) as is_negative_lead_time,
    data_error,
    copy_order > 1 as is_duplicate_change,
    reverted_commit_sha,
    reverted_commit_sha is not null as is_revert
from final
