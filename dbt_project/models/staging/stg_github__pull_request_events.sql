with source as (
    select * from {{ raw_source('github', 'pull_request_events') }}
),

renamed as (
    select
        _scope as repository,
        cast(_parent_id as integer) as pull_request_number,
        cast({{ json_str('payload', 'id') }} as {{ type_text() }}) as event_id,
        {{ json_str('payload', 'event') }} as event,
        {{ json_str('payload', 'actor.login') }} as actor_login,
        {{ to_utc(json_str('payload', 'created_at')) }} as created_at
    from source
)

select * from renamed
