{#-
  One row: the window the metrics report on. It opens at the extract start (var extract_start_date, the
  EXTRACT_START_DATE setting, at 00:00 UTC like the extractors) and closes "now": the end of today on the
  reporting calendar (var as_of_date, else the build's current date), so every build of the same day gives the same
  marts. Events outside it are data errors, never grid extenders. first_day and today are its first and last days
  on the reporting calendar.
  Without EXTRACT_START_DATE the extractors' first run reached back 180 days: the window opens 180 days before the
  first batch was loaded (else before today), so it does not roll forward and turn old history into errors.
-#}
with clock as (
    select
        {% if var('as_of_date') -%}
        cast('{{ var("as_of_date") }}' as date) as today
        {%- else -%}
        cast({{ to_reporting_tz(current_utc()) }} as date) as today
        {%- endif %}
),

first_load as (
    select cast(min(loaded_at) as date) as first_loaded_on from {{ ref('stg_loader__loaded_batches') }}
),

today as (
    select today, {{ from_reporting_tz('today + 1') }} as now_at from clock
),

final as (
    select
        {% if var('extract_start_date') -%}
        cast(cast('{{ var("extract_start_date") }}' as date) as timestamp) as extract_start_at,
        {%- else -%}
        cast(coalesce(first_load.first_loaded_on, today.today) - 180 as timestamp) as extract_start_at,
        {%- endif %}
        today.now_at,
        today.today
    from today
    cross join first_load
)

select
    extract_start_at,
    cast({{ to_reporting_tz('extract_start_at') }} as date) as first_day,
    today,
    now_at
from final
