{#-
  The build's reference time ("now", UTC timestamp): the var reference_time that doraflow passes (pinned by
  tests), else the database clock. Evidence windows still open and timestamps in the future are judged by it.
-#}
{% macro build_reference_time() -%}
{%- if var('reference_time', '') | string | length > 0 -%}cast({{ sql_string(var('reference_time')) }} as timestamp)
{%- else -%}cast(current_timestamp at time zone 'UTC' as timestamp)
{%- endif -%}
{%- endmacro %}

{#- EXTRACT_START_DATE as a timestamp (midnight UTC): earlier source timestamps are data errors. -#}
{% macro extract_start_timestamp() -%}cast({{ sql_string(var('extract_start_date', '1970-01-01')) }} as timestamp){%- endmacro %}
