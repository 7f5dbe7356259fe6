with source as (
    select * from {{ raw_source('github', 'deployment_statuses') }}
),

renamed as (
    select
        _scope as repository,
        _parent_id as deployment_id,
        cast({{ json_str('payload', 'id') }} as {{ type_text() }}) as deployment_status_id,
        lower({{ json_str('payload', 'state') }}) as state,
        {{ to_utc(json_str('payload', 'created_at')) }} as created_at
    from source
)

select * from renamed
