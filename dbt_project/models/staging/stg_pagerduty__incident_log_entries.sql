with source as (
    select * from {{ raw_source('pagerduty', 'incident_log_entries') }}
),

renamed as (
    select
        {{ json_str('payload', 'id') }} as log_entry_id,
        coalesce(_parent_id, {{ json_str('payload', 'incident.id') }}) as incident_id,
        {{ json_str('payload', 'type') }} as entry_type,
        {{ json_str('payload', 'summary') }} as summary,
        {{ json_str('payload', 'agent.type') }} as agent_type,
        {{ json_str('payload', 'agent.id') }} as agent_id,
        {{ json_str('payload', 'channel.summary') }} as channel_summary,
        {{ json_str('payload', 'channel.details') }} as channel_details,
        {{ to_utc(json_str('payload', 'created_at')) }} as created_at
    from source
)

select * from renamed
