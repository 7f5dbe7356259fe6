{#- Rows where the column is set: with severity warn, a count of flagged rows (e.g. data_error) that never stops. -#}
{% test is_null(model, column_name) %}
select * from {{ model }} where {{ column_name }} is not null
{% endtest %}
