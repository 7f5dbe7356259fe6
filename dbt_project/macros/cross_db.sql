{#-
  Every place where DuckDB and PostgreSQL differ lives here, so models stay adapter-neutral.
  JSON paths are dotted strings ('commit.author.date'); the raw payload is `json` on DuckDB, `jsonb` on PostgreSQL.
-#}

{% macro type_text() -%}{{ 'varchar' if target.type == 'duckdb' else 'text' }}{%- endmacro %}
{% macro type_json() -%}{{ 'json' if target.type == 'duckdb' else 'jsonb' }}{%- endmacro %}

{#- Text at a dotted path inside a JSON value (NULL when absent). -#}
{% macro json_str(column, path) -%}{{ return(adapter.dispatch('json_str', 'doraflow')(column, path)) }}{%- endmacro %}
{% macro duckdb__json_str(column, path) -%}json_extract_string({{ column }}, '$.{{ path }}'){%- endmacro %}
{% macro default__json_str(column, path) -%}({{ column }} #>> '{ {{- path.split('.') | join(',') -}} }'){%- endmacro %}

{#- The `field` of every element of the array at `path`, joined with `sep` ('' for an empty or missing array). -#}
{% macro json_array_join(column, path, field, sep=',') -%}
    {{ return(adapter.dispatch('json_array_join', 'doraflow')(column, path, field, sep)) }}
{%- endmacro %}
{% macro duckdb__json_array_join(column, path, field, sep) -%}
coalesce(array_to_string(json_extract_string({{ column }}, '$.{{ path }}[*].{{ field }}'), '{{ sep }}'), '')
{%- endmacro %}
{% macro default__json_array_join(column, path, field, sep) -%}
coalesce((
    select string_agg(element #>> '{ {{- field -}} }', '{{ sep }}' order by position)
    from jsonb_array_elements(
        case when jsonb_typeof({{ column }} #> '{ {{- path.split('.') | join(',') -}} }') = 'array'
             then {{ column }} #> '{ {{- path.split('.') | join(',') -}} }' else '[]'::jsonb end
    ) with ordinality as elements(element, position)
), '')
{%- endmacro %}

{#- Set-returning: one row per element of the JSON array at `path` (use in a select list). -#}
{% macro json_array_unnest(column, path) -%}
    {{ return(adapter.dispatch('json_array_unnest', 'doraflow')(column, path)) }}
{%- endmacro %}
{% macro duckdb__json_array_unnest(column, path) -%}unnest(json_extract({{ column }}, '$.{{ path }}[*]')){%- endmacro %}
{% macro default__json_array_unnest(column, path) -%}
jsonb_array_elements(case when jsonb_typeof({{ column }} #> '{ {{- path.split('.') | join(',') -}} }') = 'array'
    then {{ column }} #> '{ {{- path.split('.') | join(',') -}} }' else '[]'::jsonb end)
{%- endmacro %}

{#- Set-returning: one row per piece of `text_expr` split on `sep` (use in a select list). -#}
{% macro split_to_rows(text_expr, sep) -%}unnest(string_to_array({{ text_expr }}, '{{ sep }}')){%- endmacro %}

{#- Set-returning: the runs of hex digits in `text_expr`, lowercased (hex tokens bounded by non-hex characters). -#}
{% macro hex_tokens(text_expr) -%}{{ return(adapter.dispatch('hex_tokens', 'doraflow')(text_expr)) }}{%- endmacro %}
{% macro duckdb__hex_tokens(text_expr) -%}unnest(regexp_split_to_array(lower({{ text_expr }}), '[^0-9a-f]+')){%- endmacro %}
{% macro default__hex_tokens(text_expr) -%}regexp_split_to_table(lower({{ text_expr }}), '[^0-9a-f]+'){%- endmacro %}

{#- An API timestamp (Z, +02:00 or Jira's +0000) as a UTC `timestamp` without time zone. -#}
{% macro to_utc(text_expr) -%}
cast(cast({{ text_expr }} as timestamp with time zone) at time zone 'UTC' as timestamp)
{%- endmacro %}

{#- A UTC timestamp seen on the reporting time zone's wall clock (for period bucketing). -#}
{% macro to_reporting_tz(ts_expr) -%}
{%- if var('reporting_timezone') | upper == 'UTC' -%}{{ ts_expr }}
{%- else -%}cast((cast({{ ts_expr }} as timestamp) at time zone 'UTC') at time zone {{ sql_string(var('reporting_timezone')) }} as timestamp)
{%- endif -%}
{%- endmacro %}

{#- A reporting time zone wall-clock timestamp as the UTC `timestamp` it names (the inverse of to_reporting_tz). -#}
{% macro from_reporting_tz(ts_expr) -%}
{%- if var('reporting_timezone') | upper == 'UTC' -%}cast({{ ts_expr }} as timestamp)
{%- else -%}cast((cast({{ ts_expr }} as timestamp) at time zone {{ sql_string(var('reporting_timezone')) }}) at time zone 'UTC' as timestamp)
{%- endif -%}
{%- endmacro %}

{#- The build's current time as a UTC `timestamp`. -#}
{% macro current_utc() -%}cast(current_timestamp at time zone 'UTC' as timestamp){%- endmacro %}

{#- Set-returning: one `date` per day from `first_day` to `last_day` inclusive (use in a select list). -#}
{% macro day_series(first_day, last_day) -%}
    {{ return(adapter.dispatch('day_series', 'doraflow')(first_day, last_day)) }}
{%- endmacro %}
{% macro duckdb__day_series(first_day, last_day) -%}
cast(unnest(generate_series(cast({{ first_day }} as timestamp), cast({{ last_day }} as timestamp), interval '1 day')) as date)
{%- endmacro %}
{% macro default__day_series(first_day, last_day) -%}
cast(generate_series(cast({{ first_day }} as timestamp), cast({{ last_day }} as timestamp), interval '1 day') as date)
{%- endmacro %}

{#- An API timestamp that may come as an ISO string or as epoch milliseconds (a JSON number, e.g. Jira's
    changelog bulkfetch `created`), as a UTC `timestamp`. `text_expr` is the value's text. -#}
{% macro to_utc_or_epoch_ms(text_expr) -%}
case
    when {{ regex_match(text_expr, "'^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$'") }}
        then cast(to_timestamp(cast({{ text_expr }} as double precision) / 1000.0) at time zone 'UTC' as timestamp)
    else {{ to_utc(text_expr) }}
end
{%- endmacro %}

{#- Regular expression match; `pattern` is a SQL expression (a quoted literal or a column). -#}
{% macro regex_match(text_expr, pattern, case_insensitive=false) -%}
    {{ return(adapter.dispatch('regex_match', 'doraflow')(text_expr, pattern, case_insensitive)) }}
{%- endmacro %}
{% macro duckdb__regex_match(text_expr, pattern, case_insensitive) -%}
coalesce(regexp_matches({{ text_expr }}, {{ pattern }}{% if case_insensitive %}, 'i'{% endif %}), false)
{%- endmacro %}
{% macro default__regex_match(text_expr, pattern, case_insensitive) -%}
coalesce(({{ text_expr }}) {{ '~*' if case_insensitive else '~' }} ({{ pattern }}), false)
{%- endmacro %}

{#- The first capture group of `pattern` in `text_expr` (NULL when no match). -#}
{% macro regex_extract(text_expr, pattern) -%}
    {{ return(adapter.dispatch('regex_extract', 'doraflow')(text_expr, pattern)) }}
{%- endmacro %}
{% macro duckdb__regex_extract(text_expr, pattern) -%}
nullif(regexp_extract({{ text_expr }}, {{ pattern }}, 1), '')
{%- endmacro %}
{% macro default__regex_extract(text_expr, pattern) -%}
substring({{ text_expr }} from {{ pattern }})
{%- endmacro %}

{#- Minutes from `start_ts` to `end_ts` as a double (fractional seconds kept). -#}
{% macro minutes_between(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('minutes_between', 'doraflow')(start_ts, end_ts)) }}
{%- endmacro %}
{% macro duckdb__minutes_between(start_ts, end_ts) -%}
cast((epoch({{ end_ts }}) - epoch({{ start_ts }})) / 60.0 as double)
{%- endmacro %}
{% macro default__minutes_between(start_ts, end_ts) -%}
cast(extract(epoch from ({{ end_ts }} - {{ start_ts }})) / 60.0 as double precision)
{%- endmacro %}

{#- Continuous (interpolated) percentile, NULLs ignored; identical on both targets. -#}
{% macro percentile_cont(expr, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'doraflow')(expr, fraction)) }}
{%- endmacro %}
{% macro duckdb__percentile_cont(expr, fraction) -%}
quantile_cont(cast({{ expr }} as double), {{ fraction }})
{%- endmacro %}
{% macro default__percentile_cont(expr, fraction) -%}
percentile_cont({{ fraction }}) within group (order by cast({{ expr }} as double precision))
{%- endmacro %}

{#- `ts` plus a number of hours. -#}
{% macro add_hours(ts_expr, hours) -%}({{ ts_expr }} + {{ hours }} * interval '1 hour'){%- endmacro %}

{#- The first day of the period ('day', 'week' = ISO week from Monday, 'month') holding timestamp/date `expr`. -#}
{% macro period_start(grain, expr) -%}cast(date_trunc('{{ grain }}', cast({{ expr }} as timestamp)) as date){%- endmacro %}

{#- Days in a period starting at `start_date`. -#}
{% macro period_days(grain, start_date) -%}
{%- if grain == 'day' -%}1
{%- elif grain == 'week' -%}7
{%- else -%}cast(({{ start_date }} + interval '1 month') as date) - {{ start_date }}
{%- endif -%}
{%- endmacro %}

{#- The first day of the period holding timestamp/date `expr`, for the grain ('day', 'week' or 'month') that
    the SQL expression `grain_expr` holds (one row per grain, e.g. after a cross join with the grains). -#}
{% macro period_start_of_grain(grain_expr, expr) -%}
case {{ grain_expr }}
            when 'day' then {{ period_start('day', expr) }}
            when 'week' then {{ period_start('week', expr) }}
            else {{ period_start('month', expr) }}
        end
{%- endmacro %}

{#- The first day after the period starting at date `start_date`, for the grain `grain_expr` holds. -#}
{% macro period_end_of_grain(grain_expr, start_date) -%}
case {{ grain_expr }}
            when 'day' then {{ start_date }} + 1
            when 'week' then {{ start_date }} + 7
            else cast({{ start_date }} + interval '1 month' as date)
        end
{%- endmacro %}

{#- Two CTEs: `days`, every day from `first_day` to `last_day` of the one-row CTE `day_range` (none when it is
    NULL), by a recursive walk with no fixed cap on the span (the model starts `with recursive`); and `periods`,
    the day, week and month periods (period_grain, period_start) holding them. -#}
{% macro days_and_periods_ctes(day_range='day_range') -%}
days as (
    select first_day as day_date, last_day from {{ day_range }} where first_day is not null
    union all
    select cast(day_date + 1 as date), last_day from days where day_date < last_day
),

periods as (
    select distinct 'day' as period_grain, {{ period_start('day', 'day_date') }} as period_start from days
    union
    select distinct 'week', {{ period_start('week', 'day_date') }} from days
    union
    select distinct 'month', {{ period_start('month', 'day_date') }} from days
)
{%- endmacro %}

{#- A Python/Jinja string as a SQL string literal (single quotes doubled). -#}
{% macro sql_string(value) -%}'{{ value | string | replace("'", "''") }}'{%- endmacro %}

{#- Set-returning: the first capture group of every match of `pattern` in `text_expr` (use in a select list). -#}
{% macro regex_extract_all_to_rows(text_expr, pattern) -%}
    {{ return(adapter.dispatch('regex_extract_all_to_rows', 'doraflow')(text_expr, pattern)) }}
{%- endmacro %}
{% macro duckdb__regex_extract_all_to_rows(text_expr, pattern) -%}
unnest(regexp_extract_all({{ text_expr }}, {{ pattern }}, 1))
{%- endmacro %}
{% macro default__regex_extract_all_to_rows(text_expr, pattern) -%}
(regexp_matches({{ text_expr }}, {{ pattern }}, 'g'))[1]
{%- endmacro %}

{#- The non-NULL values of `expr` joined with ',' in the order of `order_expr` (an aggregate). -#}
{% macro string_agg_sorted(expr, order_expr) -%}string_agg({{ expr }}, ',' order by {{ order_expr }}){%- endmacro %}

{#- Whole milliseconds from `start_ts` to `end_ts` as a bigint: exact on both targets, so sums and ratios of
    durations with sub-second parts (Jira's milliseconds) give the same doubles on DuckDB and PostgreSQL. -#}
{% macro milliseconds_between(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('milliseconds_between', 'doraflow')(start_ts, end_ts)) }}
{%- endmacro %}
{% macro duckdb__milliseconds_between(start_ts, end_ts) -%}
(epoch_ms({{ end_ts }}) - epoch_ms({{ start_ts }}))
{%- endmacro %}
{% macro default__milliseconds_between(start_ts, end_ts) -%}
cast(round(extract(epoch from ({{ end_ts }} - {{ start_ts }})) * 1000) as bigint)
{%- endmacro %}
