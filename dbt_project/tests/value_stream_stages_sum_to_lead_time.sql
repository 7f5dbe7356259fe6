{#- Rows of fct_value_stream whose non-NULL stages do not add up to the lead time (docs/metrics.md, Flow):
    the partition never loses, doubles or invents time. -#}
select *
from {{ ref('fct_value_stream') }}
where lead_time_minutes is not null
    and abs(
        coalesce(stage_development_minutes, 0) + coalesce(stage_review_minutes, 0)
        + coalesce(stage_testing_minutes, 0) + coalesce(stage_staging_minutes, 0)
        + coalesce(stage_production_minutes, 0) - lead_time_minutes
    ) > 0.001
