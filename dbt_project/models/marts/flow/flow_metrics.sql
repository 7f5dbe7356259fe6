select {{ flow_metrics_columns('service') }}
from {{ ref('int_flow_metrics') }}
where dimension_kind = 'service'
