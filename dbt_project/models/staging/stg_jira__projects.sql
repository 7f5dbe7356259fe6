with source as (
    select * from {{ raw_source('jira', 'projects') }}
),

renamed as (
    select
        cast({{ json_str('payload', 'id') }} as {{ type_text() }}) as project_id,
        {{ json_str('payload', 'key') }} as project_key,
        {{ json_str('payload', 'name') }} as project_name
    from source
)

select * from renamed
