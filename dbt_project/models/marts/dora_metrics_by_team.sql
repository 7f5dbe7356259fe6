{{ dora_metrics_sql('team') }}
