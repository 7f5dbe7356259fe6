with source as (
    select * from {{ raw_source('pagerduty', 'services') }}
),

renamed as (
    select
        {{ json_str('payload', 'id') }} as pagerduty_service_id,
        {{ json_str('payload', 'name') }} as service_name,
        {{ json_str('payload', 'status') }} as status
    from source
)

select * from renamed
