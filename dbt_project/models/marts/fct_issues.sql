with issues as (
    select * from {{ ref('stg_jira__issues') }}
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
        issues.resolved_at,
        case
            when issues.resolved_at is not null and first_in_progress.started_at is not null
                then cast({{ minutes_between('first_in_progress.started_at', 'issues.resolved_at') }}
                    as double precision)
        end as cycle_time_minutes,
        case
            when issues.resolved_at is not null
                then cast({{ minutes_between('issues.created_at', 'issues.resolved_at') }} as double precision)
        end as lead_time_minutes
    from issues
    left join first_in_progress on first_in_progress.issue_id = issues.issue_id
)

select
    issue_id, issue_key, project_key, issue_type, priority, status, created_at, started_at, resolved_at,
    cycle_time_minutes, lead_time_minutes
from final
