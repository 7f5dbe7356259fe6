{{ dora_metrics_sql('service') }}
