{#- The best tier (lowest rank) of the configured benchmark edition whose threshold `value_expr` meets. -#}
{% macro benchmark_tier(metric, value_expr) -%}
case when {{ value_expr }} is null then null else (
    select benchmarks.tier
    from {{ ref('dora_benchmarks') }} as benchmarks
    where benchmarks.edition = {{ sql_string(var('benchmark_edition')) }}
        and benchmarks.metric = '{{ metric }}'
        and (
            benchmarks.threshold is null
            or (benchmarks.comparison = 'at_most' and {{ value_expr }} <= benchmarks.threshold)
            or (benchmarks.comparison = 'at_least' and {{ value_expr }} >= benchmarks.threshold)
        )
    order by benchmarks.tier_rank
    limit 1
) end
{%- endmacro %}
