{#-
  One row per period_grain ('day', 'week' = ISO week from Monday, 'month') and period_start on the reporting
  calendar, for every period from the window's first day to today (int_reporting_window), however long.
  observed_days counts the period's days inside the window (frequency per day divides by it); a period is complete
  when it lies wholly inside the window and has ended. observed_until_at (UTC) is the period's end, or now for the
  current period: the instant at which open incidents are counted.
-#}
with reporting_window as (
    select * from {{ ref('int_reporting_window') }}
),

days as (
    select {{ day_series('first_day', 'today') }} as day_date from reporting_window
),

grains as (
    select 'day' as period_grain
    union all select 'week'
    union all select 'month'
),

periods as (
    select distinct
        grains.period_grain,
        {{ period_start_of_grain('grains.period_grain', 'days.day_date') }} as period_start
    from days
    cross join grains
),

bounded as (
    select
        period_grain,
        period_start,
        {{ period_end_of_grain('period_grain', 'period_start') }} as period_end
    from periods
),

final as (
    select
        bounded.period_grain,
        bounded.period_start,
        bounded.period_end,
        bounded.period_end - bounded.period_start as period_days,
        (case when bounded.period_end - 1 < reporting_window.today then bounded.period_end - 1
              else reporting_window.today end)
            - (case when bounded.period_start > reporting_window.first_day then bounded.period_start
                    else reporting_window.first_day end)
            + 1 as observed_days,
        bounded.period_start >= reporting_window.first_day and bounded.period_end <= reporting_window.today
            as is_complete_period,
        case
            when {{ from_reporting_tz('bounded.period_end') }} < reporting_window.now_at
                then {{ from_reporting_tz('bounded.period_end') }}
            else reporting_window.now_at
        end as observed_until_at
    from bounded
    cross join reporting_window
)

select
    period_grain,
    period_start,
    period_end,
    cast(period_days as integer) as period_days,
    cast(observed_days as integer) as observed_days,
    is_complete_period,
    observed_until_at
from final
