-- Each service's latest complete month beside its baseline window and the month before: the metric, the three
-- values, the relative changes and whether it counts as a regression (worse than the baseline by more than the
-- threshold). Regressions first.
with monthly as (
    select *
    from marts.dora_baseline
    where period_grain = 'month'
),

final as (
    select
        service,
        metric,
        baseline_start,
        baseline_value,
        previous_value,
        latest_period_start,
        latest_value,
        change_vs_baseline,
        change_vs_previous,
        is_regression
    from monthly
)

select * from final
order by is_regression desc, service, metric
