{#-
  One row per Jira issue as a Flow Framework work item (docs/metrics.md, "Jira flow"):
  - work_type from seed flow_work_types: a label rule first (labels are matched whole, case-insensitively),
    else the issue type's rule, else 'unclassified';
  - done_at: the resolution date, else, when the issue is in a done-category status now, its last entry into a
    done-category status (workflows that never set a resolution);
  - started_at: first entry into an in-progress (indeterminate) status;
  - active/waiting minutes between creation and done_at (or now for open items): each status interval counts
    as the seed flow_status_activity says, else by category (indeterminate: active, new: waiting, done: neither).
-#}
with issues as (
    select * from {{ ref('stg_jira__issues') }}
),

intervals as (
    select
        intervals.*,
        coalesce(activity.activity, case intervals.status_category
            when 'indeterminate' then 'active'
            when 'new' then 'waiting'
        end) as activity
    from {{ ref('fct_issue_status_intervals') }} as intervals
    left join {{ ref('flow_status_activity') }} as activity on lower(activity.status) = lower(intervals.status)
),

last_done as (
    select issue_id, max(valid_from) as last_done_at
    from intervals
    where status_category = 'done'
    group by 1
),

first_started as (
    select issue_id, min(valid_from) as started_at
    from intervals
    where status_category = 'indeterminate'
    group by 1
),

typed as (
    select
        issues.issue_id,
        min(case when rules.match_on = 'label' then rules.work_type end) as label_work_type,
        min(case when rules.match_on = 'issue_type' then rules.work_type end) as type_work_type
    from issues
    inner join {{ ref('flow_work_types') }} as rules
        on (rules.match_on = 'label' and issues.labels_json like '%"' || lower(rules.match_value) || '"%')
        or (rules.match_on = 'issue_type' and lower(issues.issue_type) = lower(rules.match_value))
    group by 1
),

items as (
    select
        issues.issue_id,
        issues.issue_key,
        issues.project_key,
        issues.issue_type,
        coalesce(typed.label_work_type, typed.type_work_type, 'unclassified') as work_type,
        issues.created_at,
        first_started.started_at,
        coalesce(
            issues.resolved_at,
            case when issues.status_category = 'done' then last_done.last_done_at end
        ) as done_at
    from issues
    left join typed on typed.issue_id = issues.issue_id
    left join last_done on last_done.issue_id = issues.issue_id
    left join first_started on first_started.issue_id = issues.issue_id
),

time_by_activity as (
    select
        items.issue_id,
        sum(case when intervals.activity = 'active' then {{ milliseconds_between(
            'intervals.valid_from', 'least(coalesce(intervals.valid_to, items.done_at), items.done_at)') }} end)
            as active_ms,
        sum(case when intervals.activity = 'waiting' then {{ milliseconds_between(
            'intervals.valid_from', 'least(coalesce(intervals.valid_to, items.done_at), items.done_at)') }} end)
            as waiting_ms
    from items
    inner join intervals on intervals.issue_id = items.issue_id
    where items.done_at is not null and intervals.valid_from < items.done_at
    group by 1
),

catalog as (
    select lower(jira_project_key) as project_key, max(service) as service, max(team) as team
    from {{ ref('stg_service_catalog') }}
    where jira_project_key is not null
    group by 1
)

select
    items.*,
    catalog.service,
    catalog.team,
    {#- durations in whole milliseconds (exact on both targets), and in minutes for readers -#}
    case when items.done_at >= items.created_at
        then {{ milliseconds_between('items.created_at', 'items.done_at') }} end as flow_time_ms,
    case when items.done_at is not null then cast(coalesce(time_by_activity.active_ms, 0) as bigint) end
        as active_ms,
    case when items.done_at >= items.created_at
        then {{ milliseconds_between('items.created_at', 'items.done_at') }} / 60000.0 end as flow_time_minutes,
    case when items.done_at is not null then coalesce(time_by_activity.active_ms, 0) / 60000.0 end
        as active_minutes,
    case when items.done_at is not null then coalesce(time_by_activity.waiting_ms, 0) / 60000.0 end
        as waiting_minutes
from items
left join time_by_activity on time_by_activity.issue_id = items.issue_id
left join catalog on catalog.project_key = lower(items.project_key)
