{#-
  One row per Jira status name with its category key (new, indeterminate, done). Changelog items carry status
  names only: the category comes from the issues currently in that status, else from the usual names.
-#}
with seen as (
    select status, max(status_category) as status_category
    from {{ ref('stg_jira__issues') }}
    where status is not null
    group by 1
),

changelog_statuses as (
    select from_string as status from {{ ref('stg_jira__issue_changelogs') }} where field = 'status'
    union
    select to_string from {{ ref('stg_jira__issue_changelogs') }} where field = 'status'
    union
    select status from seen
),

final as (
    select
        changelog_statuses.status,
        coalesce(
            seen.status_category,
            case
                when lower(changelog_statuses.status) in ('to do', 'open', 'backlog', 'new', 'selected for development')
                    then 'new'
                when lower(changelog_statuses.status) in ('done', 'closed', 'resolved', 'released', 'cancelled')
                    then 'done'
                else 'indeterminate'
            end
        ) as status_category
    from changelog_statuses
    left join seen on seen.status = changelog_statuses.status
    where changelog_statuses.status is not null
)

select * from final
