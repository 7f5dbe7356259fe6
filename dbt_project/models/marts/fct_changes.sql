with changes as (
    select * from {{ ref('int_changes') }}
),

final as (
    select
        changes.repository,
        services.service,
        changes.commit_sha,
        cast(changes.pull_request_number as integer) as pull_request_number,
        changes.started_at,
        cast(changes.deployment_id as {{ type_text() }}) as deployment_id,
        changes.deployed_at,
        cast(changes.lead_time_minutes as double precision) as lead_time_minutes,
        changes.is_negative_lead_time,
        changes.is_revert,
        {#- Minimal forms (issue #10 item 9 adds rewritten-history copies). -#}
        false as is_duplicate_change,
        cast(case when changes.is_negative_lead_time then 'negative_lead_time' end as {{ type_text() }})
            as data_error
    from changes
    left join {{ ref('int_repository_services') }} as services on services.repository = changes.repository
)

select
    repository, service, commit_sha, pull_request_number, started_at, deployment_id, deployed_at,
    lead_time_minutes, is_negative_lead_time, is_revert, is_duplicate_change, data_error
from final
