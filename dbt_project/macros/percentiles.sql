{#-
  The median, 90th percentile and mean of the duration `expr` (NULLs ignored), named `<name>_median_minutes`,
  `<name>_p90_minutes` and `<name>_mean_minutes` as in every mart (docs/metrics.md, Conventions). `name` defaults
  to `expr` without its `_minutes`; `mean=false` leaves the mean out (a figure without one, or with its own).
-#}
{% macro percentiles(expr, name=none, mean=true) -%}
{%- set name = name or (expr[:-8] if expr.endswith('_minutes') else expr) -%}
{{ percentile_cont(expr, 0.5) }} as {{ name }}_median_minutes,
        {{ percentile_cont(expr, 0.9) }} as {{ name }}_p90_minutes
{%- if mean %},
        avg({{ expr }}) as {{ name }}_mean_minutes
{%- endif %}
{%- endmacro %}
