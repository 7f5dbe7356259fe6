select {{ flow_metrics_columns('team') }}
from {{ ref('int_flow_metrics') }}
where dimension_kind = 'team'
