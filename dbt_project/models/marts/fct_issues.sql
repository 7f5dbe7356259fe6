with issues as (
    select * from {{ ref('stg_jira__issues') }}
),

intervals as (
    select
        issue_id,
        interval_number,
        status_category,
        valid_from,
        valid_to,
        lag(status_category) over (partition by issue_id order by interval_number) as previous_status_category
    from {{ ref('fct_issue_status_intervals') }}
),

{#-
  Many Jira workflows reach Done without setting a resolution: such an issue is resolved when it last entered a
  done-category status from another category, if it is in one now (a reopened issue: its last entry).
-#}
done_entries as (
    select
        issue_id,
        max(case
            when status_category = 'done' and coalesce(previous_status_category, '') <> 'done' then valid_from
        end) as last_done_entry_at,
        max(case when valid_to is null then status_category end) as current_status_category
    from intervals
    group by 1
),

resolutions as (
    select
        issues.issue_id,
        coalesce(
            issues.resolved_at,
            case when done_entries.current_status_category = 'done' then done_entries.last_done_entry_at end
        ) as resolved_at
    from issues
    left join done_entries on done_entries.issue_id = issues.issue_id
),

first_in_progress as (
    select issue_id, min(valid_from) as started_at
    from {{ ref('fct_issue_status_intervals') }}
    where status_category = 'indeterminate'
    group by 1
),

final as (
    select
        cast(issues.issue_id as {{ type_text() }}) as issue_id,
        issues.issue_key,
        issues.project_key,
        issues.issue_type,
        issues.priority,
        issues.status,
        issues.created_at,
        first_in_progress.started_at,
        resolutions.resolved_at,
        case
            when resolutions.resolved_at is not null and first_in_progress.started_at is not null
                then cast({{ minutes_between('first_in_progress.started_at', 'resolutions.resolved_at') }}
                    as double precision)
        end as cycle_time_minutes,
        case
            when resolutions.resolved_at is not null
                then cast({{ minutes_between('issues.created_at', 'resolutions.resolved_at') }} as double precision)
        end as lead_time_minutes
    from issues
    inner join resolutions on resolutions.issue_id = issues.issue_id
    left join first_in_progress on first_in_progress.issue_id = issues.issue_id
)

select
    issue_id, issue_key, project_key, issue_type, priority, status, created_at, started_at, resolved_at,
    cycle_time_minutes, lead_time_minutes
from final
