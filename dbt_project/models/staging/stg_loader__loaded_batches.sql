{#- One row per landed batch merged into raw, with when (UTC); empty before the first load. -#}
with source as (
    select *
    from {{ raw_source('loader', 'loaded_batches', columns=[
        ('batch_id', type_text()), ('source', type_text()), ('stream', type_text()),
        ('loaded_at', 'timestamp with time zone')]) }} as loaded_batches
)

select
    cast(batch_id as {{ type_text() }}) as batch_id,
    cast(source as {{ type_text() }}) as source,
    cast(stream as {{ type_text() }}) as stream,
    cast(loaded_at at time zone 'UTC' as timestamp) as loaded_at
from source
