with source as (
    select * from {{ raw_source('pagerduty', 'incidents') }}
),

renamed as (
    select
        {{ json_str('payload', 'id') }} as incident_id,
        cast({{ json_str('payload', 'incident_number') }} as integer) as incident_number,
        {{ json_str('payload', 'title') }} as title,
        {{ json_str('payload', 'description') }} as description,
        {{ json_str('payload', 'status') }} as status,
        {{ json_str('payload', 'urgency') }} as urgency,
        {{ json_str('payload', 'service.id') }} as pagerduty_service_id,
        {{ json_str('payload', 'service.summary') }} as pagerduty_service_name,
        {{ to_utc(json_str('payload', 'created_at')) }} as created_at,
        {{ to_utc(json_str('payload', 'resolved_at')) }} as resolved_at
    from source
)

select * from renamed
