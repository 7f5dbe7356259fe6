{#- Validity intervals of each issue's status, from its creation through each status change of its changelog. -#}
with issues as (
    select * from {{ ref('stg_jira__issues') }}
),

transitions as (
    select
        issue_id,
        changed_at,
        from_string,
        to_string,
        row_number() over (
            partition by issue_id order by changed_at, length(history_id), history_id
        ) as transition_number
    from {{ ref('stg_jira__issue_changelogs') }}
    where field = 'status'
),

first_transitions as (
    select * from transitions where transition_number = 1
),

intervals as (
    -- the status the issue was created in, until its first change (or still, without changes)
    select
        issues.issue_id,
        coalesce(first_transitions.from_string, issues.status) as status,
        issues.created_at as valid_from,
        0 as interval_number
    from issues
    left join first_transitions on first_transitions.issue_id = issues.issue_id
    union all
    select issue_id, to_string, changed_at, transition_number
    from transitions
),

bounded as (
    select
        intervals.*,
        lead(valid_from) over (partition by issue_id order by interval_number) as valid_to
    from intervals
),

final as (
    select
        cast(bounded.issue_id as {{ type_text() }}) as issue_id,
        issues.issue_key,
        issues.project_key,
        cast(bounded.interval_number as integer) as interval_number,
        bounded.status,
        categories.status_category,
        bounded.valid_from,
        bounded.valid_to,
        case
            when bounded.valid_to is not null
                then cast({{ minutes_between('bounded.valid_from', 'bounded.valid_to') }} as double precision)
        end as minutes_in_status
    from bounded
    inner join issues on issues.issue_id = bounded.issue_id
    left join {{ ref('int_jira_status_categories') }} as categories on categories.status = bounded.status
)

select
    issue_id, issue_key, project_key, interval_number, status, status_category, valid_from, valid_to,
    minutes_in_status
from final
