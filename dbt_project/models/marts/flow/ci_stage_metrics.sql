{#-
  One row per period_grain x period_start x service (with 'all') x CI stage (with 'all') that ran jobs: where the
  CI feedback loop spends its time, from fct_ci_jobs (GITHUB_CI_JOBS; empty when off). Jobs are bucketed by
  created_at on the reporting time zone's calendar; skipped jobs did not run and are left out. slowest_stage: the
  stage with the largest median elapsed time (queued -> done), ties to the earlier stage of the pipeline
  (docs/metrics.md, Flow, "CI stages").
-#}
{%- set stage_order = ['build', 'unit_tests', 'integration_tests', 'security_scan', 'deploy', 'other'] -%}
with jobs as (
    select
        service,
        stage,
        is_rerun,
        queue_minutes,
        run_minutes,
        cast(case when completed_at >= created_at
            then {{ minutes_between('created_at', 'completed_at') }} end as double precision) as elapsed_minutes,
        {{ to_reporting_tz('created_at') }} as local_at
    from {{ ref('fct_ci_jobs') }}
    where conclusion is null or conclusion <> 'skipped'
),

grains as (
    select 'day' as period_grain
    union all select 'week'
    union all select 'month'
),

bucketed as (
    select
        grains.period_grain,
        case grains.period_grain
            when 'day' then {{ period_start('day', 'jobs.local_at') }}
            when 'week' then {{ period_start('week', 'jobs.local_at') }}
            else {{ period_start('month', 'jobs.local_at') }}
        end as period_start,
        jobs.service,
        jobs.stage,
        jobs.is_rerun,
        jobs.queue_minutes,
        jobs.run_minutes,
        jobs.elapsed_minutes
    from jobs
    cross join grains
),

scoped as (
    {#- every job counts for its service and for 'all', in its stage and in 'all' -#}
    select period_grain, period_start, service, stage, is_rerun, queue_minutes, run_minutes, elapsed_minutes
    from bucketed
    union all
    select period_grain, period_start, 'all', stage, is_rerun, queue_minutes, run_minutes, elapsed_minutes
    from bucketed
    union all
    select period_grain, period_start, service, 'all', is_rerun, queue_minutes, run_minutes, elapsed_minutes
    from bucketed
    union all
    select period_grain, period_start, 'all', 'all', is_rerun, queue_minutes, run_minutes, elapsed_minutes
    from bucketed
),

aggregated as (
    select
        period_grain,
        period_start,
        service,
        stage,
        count(*) as jobs,
        sum(case when is_rerun then 1 else 0 end) as rerun_jobs,
        {{ percentiles('queue_minutes', mean=false) }},
        {{ percentiles('run_minutes', mean=false) }},
        {{ percentiles('elapsed_minutes', mean=false) }}
    from scoped
    group by 1, 2, 3, 4
),

ranked as (
    select
        period_grain,
        period_start,
        service,
        stage,
        row_number() over (
            partition by period_grain, period_start, service
            order by elapsed_median_minutes desc,
                case stage
                    {%- for stage in stage_order %}
                    when '{{ stage }}' then {{ loop.index }}
                    {%- endfor %}
                end
        ) as slowness_rank
    from aggregated
    where stage <> 'all' and elapsed_median_minutes is not null
),

final as (
    select
        aggregated.period_grain,
        aggregated.period_start,
        aggregated.service,
        aggregated.stage,
        cast(aggregated.jobs as integer) as jobs,
        cast(aggregated.rerun_jobs as integer) as rerun_jobs,
        cast(aggregated.rerun_jobs as double precision) / aggregated.jobs as rerun_job_share,
        cast(aggregated.queue_median_minutes as double precision) as queue_median_minutes,
        cast(aggregated.queue_p90_minutes as double precision) as queue_p90_minutes,
        cast(aggregated.run_median_minutes as double precision) as run_median_minutes,
        cast(aggregated.run_p90_minutes as double precision) as run_p90_minutes,
        cast(aggregated.elapsed_median_minutes as double precision) as elapsed_median_minutes,
        cast(aggregated.elapsed_p90_minutes as double precision) as elapsed_p90_minutes,
        slowest.stage as slowest_stage
    from aggregated
    left join ranked as slowest
        on slowest.period_grain = aggregated.period_grain
        and slowest.period_start = aggregated.period_start
        and slowest.service = aggregated.service
        and slowest.slowness_rank = 1
)

select * from final
