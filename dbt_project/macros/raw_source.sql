{#-
  A raw table as a relation. A source that is not configured (no table in `raw` yet) reads as an empty table
  with the contract columns, and the run log says so: marts then show no data for that source instead of
  failing. doraflow.transform refuses to run at all when the `raw` schema holds no table (the loader runs first).
  `columns` ([(name, type), ...]) gives the empty table's columns for a raw table that is not an API stream.
-#}
{% macro raw_source(source_name, table_name, columns=none) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if execute -%}
        {%- set existing = adapter.get_relation(
            database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
        {%- if existing is none -%}
            {%- do log("doraflow: " ~ relation.schema ~ "." ~ relation.identifier
                ~ " does not exist yet (source not configured or not loaded): read as empty", info=true) -%}
            {%- if columns is not none -%}
            (select {% for name, type in columns %}cast(null as {{ type }}) as {{ name }}{{ ', ' if not loop.last }}{% endfor %}
             where 1 = 0)
            {%- else -%}
            (select cast(null as {{ type_text() }}) as _key, cast(null as {{ type_text() }}) as _scope,
                    cast(null as {{ type_text() }}) as _parent_id, cast(null as {{ type_json() }}) as payload,
                    cast(null as timestamp with time zone) as _extracted_at,
                    cast(null as {{ type_text() }}) as _batch_id
             where 1 = 0)
            {%- endif -%}
        {%- else -%}{{ relation }}{%- endif -%}
    {%- else -%}{{ relation }}{%- endif -%}
{%- endmacro %}
