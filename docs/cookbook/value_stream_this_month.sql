-- The value stream of each service this month (calendar month of the reporting time zone, so far): the median
-- minutes of each stage, drawn left to right, the median lead time they partition, and the bottleneck (the stage
-- with the largest median share of lead time). Services that shipped nothing this month are left out.
with this_month as (
    select *
    from marts.flow_metrics
    where period_grain = 'month'
        and period_start = cast(date_trunc('month', current_date) as date)
        and service not in ('all', 'unmapped')
        and changes > 0
),

final as (
    select
        service,
        changes,
        stage_development_median_minutes as development_minutes,
        stage_review_median_minutes as review_minutes,
        stage_testing_median_minutes as testing_minutes,
        stage_staging_median_minutes as staging_minutes,
        stage_production_median_minutes as production_minutes,
        lead_time_median_minutes,
        bottleneck_stage
    from this_month
)

select * from final
order by lead_time_median_minutes desc nulls last, service
