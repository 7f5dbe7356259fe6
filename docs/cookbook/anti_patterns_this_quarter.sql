-- The anti-patterns flow_signals found this quarter, month by month: the measure, the threshold it crossed and the
-- keys of the evidence rows (deployment ids, repository@sha, repository#number) to look up in the fact tables.
with signals as (
    select *
    from marts.flow_signals
    where period_grain = 'month'
        and period_start >= cast(date_trunc('quarter', current_date) as date)
),

final as (
    select
        service,
        period_start as month_start,
        signal,
        measured_value,
        threshold,
        evidence_count,
        evidence_keys
    from signals
)

select * from final
order by service, month_start, signal
