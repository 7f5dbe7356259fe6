{#- One row per pipeline run (CLI, demo or Airflow), newest first: a view over the ops tables that
    doraflow.ops.RunRecorder writes, so it always shows the latest run. The pre-hooks create the ops
    tables when the warehouse has none yet (same DDL as doraflow/ops.py; tests/test_ops.py checks). -#}
{{ config(
    materialized="view",
    schema="marts",
    pre_hook=[
        "create schema if not exists ops",
        "create table if not exists ops.pipeline_runs (run_id varchar primary key, trigger varchar, status varchar, error varchar, started_at timestamptz, finished_at timestamptz, duration_seconds double precision)",
        "create table if not exists ops.stream_runs (run_id varchar, source varchar, stream varchar, scope varchar, requests bigint, not_modified bigint, pages bigint, records bigint, batches bigint, elapsed_seconds double precision)",
        "alter table ops.stream_runs add column if not exists graphql_points bigint",
        "create table if not exists ops.step_runs (run_id varchar, step varchar, started_at timestamptz, finished_at timestamptz, duration_seconds double precision, status varchar, detail varchar)",
        "create table if not exists ops.check_results (run_id varchar, checked_at timestamptz, suite varchar, expectation varchar, table_name varchar, column_name varchar, severity varchar, success boolean, failing_count bigint, observed_value double precision, sample varchar)",
        "create table if not exists ops.source_freshness (run_id varchar, table_name varchar, source varchar, row_count bigint, latest_extracted_at timestamptz, age_hours double precision)",
        "create table if not exists ops.dbt_source_freshness (run_id varchar, source varchar, table_name varchar, status varchar, max_loaded_at varchar, age_seconds double precision)",
        "create table if not exists ops.marts_gate (event_at timestamptz, event varchar, run_id varchar)"
    ],
) }}

with runs as (
    select * from {{ source("ops", "pipeline_runs") }}
),

streams as (
    select
        run_id,
        count(*) as streams,
        sum(requests) as requests,
        sum(not_modified) as not_modified_requests,
        sum(pages) as pages,
        sum(records) as records_extracted,
        sum(batches) as batches_landed
    from {{ source("ops", "stream_runs") }}
    group by run_id
),

steps as (
    select
        run_id,
        case
            when step like 'extract%' then 'extract'
            when step like 'transform%' or step like 'dbt%' then 'transform'
            else step
        end as step_family,
        min(started_at) as started_at,
        max(finished_at) as finished_at,
        sum(case when status = 'failed' then 1 else 0 end) as failed_steps
    from {{ source("ops", "step_runs") }}
    group by 1, 2
),

step_seconds as (
    select
        run_id,
        sum(extract(epoch from finished_at) - extract(epoch from started_at)) as steps_seconds,
        max(case when step_family = 'extract'
            then extract(epoch from finished_at) - extract(epoch from started_at) end) as extract_seconds,
        max(case when step_family = 'load'
            then extract(epoch from finished_at) - extract(epoch from started_at) end) as load_seconds,
        max(case when step_family = 'transform'
            then extract(epoch from finished_at) - extract(epoch from started_at) end) as transform_seconds,
        max(case when step_family = 'publish'
            then extract(epoch from finished_at) - extract(epoch from started_at) end) as publish_seconds,
        sum(failed_steps) as failed_steps
    from steps
    group by run_id
),

checks as (
    select
        run_id,
        count(*) as checks_evaluated,
        sum(case when not success and severity = 'critical' then 1 else 0 end) as critical_failures,
        sum(case when not success and severity = 'warning' then 1 else 0 end) as warnings
    from {{ source("ops", "check_results") }}
    group by run_id
),

freshness as (
    select
        run_id,
        max(latest_extracted_at) as latest_extracted_at,
        max(age_hours) as stalest_source_age_hours,
        sum(row_count) as raw_rows
    from {{ source("ops", "source_freshness") }}
    group by run_id
),

final as (
    select
        runs.run_id,
        runs.trigger,
        runs.status,
        runs.error,
        runs.started_at,
        runs.finished_at,
        runs.duration_seconds,
        runs.started_at = max(runs.started_at) over () as is_latest,
        coalesce(streams.streams, 0) as streams,
        coalesce(streams.requests, 0) as requests,
        coalesce(streams.not_modified_requests, 0) as not_modified_requests,
        coalesce(streams.pages, 0) as pages,
        coalesce(streams.records_extracted, 0) as records_extracted,
        coalesce(streams.batches_landed, 0) as batches_landed,
        step_seconds.extract_seconds,
        step_seconds.load_seconds,
        step_seconds.transform_seconds,
        step_seconds.publish_seconds,
        coalesce(step_seconds.failed_steps, 0) as failed_steps,
        coalesce(checks.checks_evaluated, 0) as checks_evaluated,
        coalesce(checks.critical_failures, 0) as critical_failures,
        coalesce(checks.warnings, 0) as warnings,
        freshness.latest_extracted_at,
        freshness.stalest_source_age_hours,
        freshness.raw_rows
    from runs
    left join streams on streams.run_id = runs.run_id
    left join step_seconds on step_seconds.run_id = runs.run_id
    left join checks on checks.run_id = runs.run_id
    left join freshness on freshness.run_id = runs.run_id
)

select * from final
