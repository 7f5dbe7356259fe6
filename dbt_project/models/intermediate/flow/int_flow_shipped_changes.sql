{#-
  One row per change (commit) shipped by a release: fct_changes restricted to the releases of int_flow_releases
  (the deployment that first reached the commit is the one that shipped it). A monorepo commit shipped to two
  services has one value stream: its first shipment's (fct_changes.is_first_shipment).
-#}
select
    changes.repository,
    releases.service,
    releases.team,
    changes.commit_sha,
    changes.pull_request_number,
    changes.started_at,
    changes.deployment_id,
    releases.commit_sha as release_commit_sha,
    changes.deployed_at,
    changes.lead_time_minutes,
    changes.is_negative_lead_time
from {{ ref('fct_changes') }} as changes
inner join {{ ref('int_flow_releases') }} as releases on releases.deployment_id = changes.deployment_id
where changes.is_first_shipment and not changes.is_duplicate_change
