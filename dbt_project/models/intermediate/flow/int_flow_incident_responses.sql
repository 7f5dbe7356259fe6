{#-
  One row per PagerDuty incident with a log entry: when it was first acknowledged (the first acknowledge log
  entry) and who acknowledged and resolved it (user agents; NULL for a service or integration agent).
-#}
with entries as (
    select * from {{ ref('stg_pagerduty__incident_log_entries') }}
),

ranked as (
    select
        incident_id,
        entry_type,
        created_at,
        case when agent_type in ('user_reference', 'user') then agent_id end as user_id,
        row_number() over (partition by incident_id, entry_type order by created_at, log_entry_id) as rank_in_type
    from entries
    where entry_type in ('acknowledge_log_entry', 'resolve_log_entry')
)

select
    incident_id,
    min(case when entry_type = 'acknowledge_log_entry' then created_at end) as acknowledged_at,
    max(case when entry_type = 'acknowledge_log_entry' and rank_in_type = 1 then user_id end)
        as acknowledged_by_user_id,
    max(case when entry_type = 'resolve_log_entry' and rank_in_type = 1 then user_id end) as resolved_by_user_id
from ranked
group by 1
