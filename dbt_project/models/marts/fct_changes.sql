with changes as (
    select * from {{ ref('int_changes') }}
),

final as (
    select
        changes.repository,
        changes.service,
        changes.commit_sha,
        cast(changes.pull_request_number as integer) as pull_request_number,
        changes.started_at,
        cast(changes.deployment_id as {{ type_text() }}) as deployment_id,
        changes.deployed_at,
        cast(changes.lead_time_minutes as double precision) as lead_time_minutes,
        changes.is_negative_lead_time,
        changes.is_revert,
        changes.is_duplicate_change,
        cast(changes.data_error as {{ type_text() }}) as data_error,
        changes.is_first_shipment
    from changes
)

select
    repository, service, commit_sha, pull_request_number, started_at, deployment_id, deployed_at,
    lead_time_minutes, is_negative_lead_time, is_revert, is_duplicate_change, data_error, is_first_shipment
from final
