{#-
  One row per "This reverts commit <sha>" line of a known commit's message (a squash of two reverts has two):
  the reverting commit, the reverted sha as written (7 to 40 hex characters, lowercased), and the reverted commit
  when it is known (the sha written is a prefix of it). is_reapply: the reverted commit is itself a revert, so this
  line re-applies a change (a revert of a revert) and is no failure evidence.
-#}
with lines as (
    select distinct repository, commit_sha, lower(reverted_prefix) as reverted_prefix
    from (
        select
            repository,
            commit_sha,
            {{ regex_extract_all_to_rows('message', "'This reverts commit ([0-9a-fA-F]{7,40})'") }} as reverted_prefix
        from {{ ref('int_commits') }}
        where message like '%This reverts commit %'
    ) as extracted
    where reverted_prefix is not null
),

resolved as (
    select
        lines.repository,
        lines.commit_sha,
        lines.reverted_prefix,
        min(commits.commit_sha) as reverted_commit_sha
    from lines
    left join {{ ref('int_commits') }} as commits
        on commits.repository = lines.repository
        and commits.commit_sha like lines.reverted_prefix || '%'
    group by 1, 2, 3
)

select
    resolved.repository,
    resolved.commit_sha,
    resolved.reverted_prefix,
    resolved.reverted_commit_sha,
    exists (
        select 1 from lines as target_lines
        where target_lines.repository = resolved.repository
            and target_lines.commit_sha = resolved.reverted_commit_sha
    ) as is_reapply
from resolved
