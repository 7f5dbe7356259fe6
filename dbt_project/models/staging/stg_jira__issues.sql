with source as (
    select * from {{ raw_source('jira', 'issues') }}
),

renamed as (
    select
        cast({{ json_str('payload', 'id') }} as {{ type_text() }}) as issue_id,
        {{ json_str('payload', 'key') }} as issue_key,
        {{ json_str('payload', 'fields.project.key') }} as project_key,
        {{ json_str('payload', 'fields.summary') }} as summary,
        {{ json_str('payload', 'fields.issuetype.name') }} as issue_type,
        {{ json_str('payload', 'fields.priority.name') }} as priority,
        {{ json_str('payload', 'fields.status.name') }} as status,
        lower(coalesce({{ json_str('payload', 'fields.labels') }}, '')) as labels_json,
        {{ json_str('payload', 'fields.status.statusCategory.key') }} as status_category,
        {{ to_utc(json_str('payload', 'fields.created')) }} as created_at,
        {{ to_utc(json_str('payload', 'fields.resolutiondate')) }} as resolved_at
    from source
)

select * from renamed
