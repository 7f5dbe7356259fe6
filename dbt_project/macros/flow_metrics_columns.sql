{#-
  The select list of flow_metrics and flow_metrics_by_team (one contract, two dimensions): int_flow_metrics'
  figures with counts defaulted to 0 and the rates derived. `dimension` is the output name of dimension_value.
-#}
{% macro flow_metrics_columns(dimension) -%}
    period_grain,
    period_start,
    dimension_value as {{ dimension }},
    cast(coalesce(changes, 0) as integer) as changes,
    cast(coalesce(lead_time_n, 0) as integer) as lead_time_n,
    cast(lead_time_median_minutes as double precision) as lead_time_median_minutes,
    cast(lead_time_p90_minutes as double precision) as lead_time_p90_minutes,
    cast(lead_time_mean_minutes as double precision) as lead_time_mean_minutes,
    {%- for stage in ['development', 'review', 'testing', 'staging', 'production'] %}
    cast(coalesce(stage_{{ stage }}_n, 0) as integer) as stage_{{ stage }}_n,
    cast(stage_{{ stage }}_median_minutes as double precision) as stage_{{ stage }}_median_minutes,
    cast(stage_{{ stage }}_p90_minutes as double precision) as stage_{{ stage }}_p90_minutes,
    cast(stage_{{ stage }}_mean_minutes as double precision) as stage_{{ stage }}_mean_minutes,
    cast(share_{{ stage }}_median as double precision) as stage_{{ stage }}_share_median,
    {%- endfor %}
    bottleneck_stage,
    cast(pickup_median_minutes as double precision) as pickup_median_minutes,
    cast(review_median_minutes as double precision) as review_median_minutes,
    cast(merge_wait_median_minutes as double precision) as merge_wait_median_minutes,
    cast(review_rounds_mean as double precision) as review_rounds_mean,
    cast(merge_to_staging_median_minutes as double precision) as merge_to_staging_median_minutes,
    cast(staging_to_production_median_minutes as double precision) as staging_to_production_median_minutes,
    cast(coalesce(pull_requests_merged, 0) as integer) as pull_requests_merged,
    cast(wip_pull_requests_open as integer) as pull_requests_open_at_period_end,
    cast(wip_pull_requests_long_lived as integer) as long_lived_pull_requests_open,
    cast(pull_request_open_median_minutes as double precision) as pull_request_open_median_minutes,
    cast(lines_changed_median as double precision) as lines_changed_median,
    cast(coalesce(releases, 0) as integer) as releases,
    cast(batch_changes_median as double precision) as batch_changes_median,
    cast(batch_pull_requests_median as double precision) as batch_pull_requests_median,
    cast(coalesce(releases_bypassing_staging, 0) as integer) as releases_bypassing_staging,
    cast(releases_bypassing_staging as double precision) / nullif(releases, 0) as staging_bypass_rate,
    cast(coalesce(ci_runs, 0) as integer) as ci_runs,
    cast(ci_runs_successful as double precision) / nullif(ci_runs_completed, 0) as ci_success_rate,
    cast(ci_runs_rerun as double precision) / nullif(ci_runs, 0) as ci_rerun_rate,
    cast(ci_run_median_minutes as double precision) as ci_run_median_minutes,
    cast(ci_run_p90_minutes as double precision) as ci_run_p90_minutes,
    cast(ci_queue_median_minutes as double precision) as ci_queue_median_minutes,
    cast(coalesce(ci_feedback_n, 0) as integer) as ci_feedback_n,
    cast(ci_feedback_median_minutes as double precision) as ci_feedback_median_minutes,
    cast(ci_feedback_p90_minutes as double precision) as ci_feedback_p90_minutes,
    cast(ci_pipeline_median_minutes as double precision) as ci_pipeline_median_minutes,
    cast(coalesce(production_deployments_created, 0) as integer) as production_deployments_created,
    cast(coalesce(production_deployments_automated, 0) as integer) as production_deployments_automated,
    cast(coalesce(production_deployments_with_creator, 0) - coalesce(production_deployments_automated, 0)
        as integer) as production_deployments_manual,
    cast(production_deployments_automated as double precision) / nullif(production_deployments_with_creator, 0)
        as deployment_automation_share,
    cast(coalesce(time_to_detect_n, 0) as integer) as time_to_detect_n,
    cast(time_to_detect_median_minutes as double precision) as time_to_detect_median_minutes,
    cast(time_to_acknowledge_median_minutes as double precision) as time_to_acknowledge_median_minutes,
    cast(time_to_resolve_median_minutes as double precision) as time_to_resolve_median_minutes
{%- endmacro %}
