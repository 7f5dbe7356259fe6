{#- The service dimension of int_dora_metrics, where every metric rule is written (docs/metrics.md). -#}
select {{ dora_metrics_columns('service') }}
from {{ ref('int_dora_metrics') }}
where dimension = 'service'
