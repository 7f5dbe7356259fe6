{#- One row per changelog item (a history holds one or more field changes). -#}
with source as (
    select * from {{ raw_source('jira', 'issue_changelogs') }}
),

items as (
    select
        _parent_id as issue_id,
        cast({{ json_str('payload', 'id') }} as {{ type_text() }}) as history_id,
        {#- ISO string from the issue changelog endpoint, epoch milliseconds from the bulkfetch (Jira spec) -#}
        {{ to_utc_or_epoch_ms(json_str('payload', 'created')) }} as changed_at,
        {{ json_array_unnest('payload', 'items') }} as item
    from source
),

renamed as (
    select
        issue_id,
        history_id,
        changed_at,
        {{ json_str('item', 'field') }} as field,
        {{ json_str('item', 'fieldId') }} as field_id,
        {{ json_str('item', 'from') }} as from_value,
        {{ json_str('item', 'fromString') }} as from_string,
        {{ json_str('item', 'to') }} as to_value,
        {{ json_str('item', 'toString') }} as to_string
    from items
)

select * from renamed
