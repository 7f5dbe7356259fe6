{#- A model's key and its required columns in one query: one dbt node instead of a `unique` or
    `unique_combination` test and a `not_null` test per column (dbt's cost is per node, docs/benchmarks.md).
    Returns one row per rule broken, `problem` naming it: 'null <column>' with the number of rows where that
    `not_null` column is NULL, 'duplicate <columns>' with the number of `columns` combinations found more than
    once. Without `columns`, the NULL checks alone. -#}
{% test key(model, columns=[], not_null=[]) %}
with
{%- if not_null %}
nulls as (
    select
    {%- for column in not_null %}
        sum(case when {{ column }} is null then 1 else 0 end) as {{ column }}{{ "," if not loop.last }}
    {%- endfor %}
    from {{ model }}
),
{%- endif %}
{%- if columns %}
duplicates as (
    select count(*) as occurrences
    from (select 1 as repeated from {{ model }} group by {{ columns | join(', ') }} having count(*) > 1) as keys
),
{%- endif %}
problems as (
{%- for column in not_null %}
    select 'null {{ column }}' as problem, {{ column }} as occurrences from nulls
    {%- if not loop.last or columns %}
    union all
    {%- endif %}
{%- endfor %}
{%- if columns %}
    select 'duplicate {{ columns | join(" + ") }}' as problem, occurrences from duplicates
{%- endif %}
)
select problem, occurrences from problems where occurrences > 0
{% endtest %}
