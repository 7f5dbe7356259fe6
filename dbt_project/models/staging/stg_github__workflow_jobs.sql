with source as (
    select * from {{ raw_source('github', 'workflow_jobs') }}
),

renamed as (
    select
        _scope as repository,
        cast({{ json_str('payload', 'id') }} as {{ type_text() }}) as workflow_job_id,
        cast(_parent_id as {{ type_text() }}) as workflow_run_id,
        cast({{ json_str('payload', 'run_attempt') }} as integer) as run_attempt,
        {{ json_str('payload', 'workflow_name') }} as workflow_name,
        {{ json_str('payload', 'name') }} as job_name,
        {{ json_str('payload', 'status') }} as status,
        {{ json_str('payload', 'conclusion') }} as conclusion,
        {{ json_str('payload', 'runner_name') }} as runner_name,
        {{ to_utc(json_str('payload', 'created_at')) }} as created_at,
        {{ to_utc(json_str('payload', 'started_at')) }} as started_at,
        {{ to_utc(json_str('payload', 'completed_at')) }} as completed_at
    from source
)

select * from renamed
