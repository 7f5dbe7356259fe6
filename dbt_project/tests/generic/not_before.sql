{#- Rows where `column_name` is earlier than `other_column` (both not NULL): time order. -#}
{% test not_before(model, column_name, other_column) %}
select *
from {{ model }}
where {{ column_name }} is not null and {{ other_column }} is not null and {{ column_name }} < {{ other_column }}
{% endtest %}
