with source as (
    select * from {{ raw_source('github', 'deployments') }}
),

renamed as (
    select
        _scope as repository,
        cast({{ json_str('payload', 'id') }} as {{ type_text() }}) as deployment_id,
        {{ json_str('payload', 'sha') }} as commit_sha,
        {{ json_str('payload', 'ref') }} as ref,
        {{ json_str('payload', 'task') }} as task,
        {{ json_str('payload', 'environment') }} as environment,
        case lower({{ json_str('payload', 'production_environment') }})
            when 'true' then true when 'false' then false
        end as is_production_environment,
        {{ json_str('payload', 'creator.login') }} as creator_login,
        {{ json_str('payload', 'creator.type') }} as creator_type,
        {{ json_str('payload', 'performed_via_github_app.slug') }} as created_via_app_slug,
        {{ to_utc(json_str('payload', 'created_at')) }} as created_at
    from source
)

select * from renamed
