with source as (
    select * from {{ raw_source('github', 'workflow_runs') }}
),

renamed as (
    select
        _scope as repository,
        cast({{ json_str('payload', 'id') }} as {{ type_text() }}) as workflow_run_id,
        {{ json_str('payload', 'name') }} as workflow_name,
        {{ json_str('payload', 'event') }} as event,
        {{ json_str('payload', 'head_branch') }} as head_branch,
        {{ json_str('payload', 'head_sha') }} as head_sha,
        {{ json_str('payload', 'status') }} as status,
        {{ json_str('payload', 'conclusion') }} as conclusion,
        cast({{ json_str('payload', 'run_attempt') }} as integer) as run_attempt,
        {{ to_utc(json_str('payload', 'run_started_at')) }} as run_started_at,
        {{ json_str('payload', 'actor.login') }} as actor_login,
        {{ to_utc(json_str('payload', 'created_at')) }} as created_at,
        {{ to_utc(json_str('payload', 'updated_at')) }} as updated_at
    from source
)

select * from renamed
