{#- The team dimension of int_dora_metrics, where every metric rule is written (docs/metrics.md). -#}
select {{ dora_metrics_columns('team') }}
from {{ ref('int_dora_metrics') }}
where dimension = 'team'
