{#- One row per coverage measure: how far to trust each number. -#}
with merged_prs as (
    select repository, lower(merge_commit_sha) as merge_commit_sha
    from {{ ref('stg_github__pull_requests') }}
    where is_merged and merge_commit_sha is not null
),

reached as (
    select distinct repository, commit_sha from {{ ref('int_deployment_reachable_commits') }}
),

deployments as (
    select * from {{ ref('fct_deployments') }} where outcome = 'success' and deployment_kind = 'release'
),

incidents as (
    select * from {{ ref('fct_incidents') }}
),

pagerduty as (
    select * from {{ ref('int_pagerduty_services') }}
),

measures as (
    select
        'merged_pull_requests_in_production' as measure,
        'Merged pull requests whose merge commit is reachable from a successful production deployment'
            as description,
        count(reached.commit_sha) as numerator,
        count(*) as denominator
    from merged_prs
    left join reached
        on reached.repository = merged_prs.repository and reached.commit_sha = merged_prs.merge_commit_sha
    union all
    select
        'deployments_with_change_set',
        'Releases (seeds, rollout steps, redeploys and rollbacks excluded) with at least one change',
        count(case when change_count > 0 then 1 end),
        count(*)
    from deployments
    union all
    select
        'incidents_attributed',
        'Incidents attributed to a deployment (explicitly or within the window)',
        count(caused_by_deployment_id),
        count(*)
    from incidents
    union all
    select
        'pagerduty_services_mapped',
        'PagerDuty services mapped to a service of the catalog or of a repository',
        count(mapped_by),
        count(*)
    from pagerduty
    union all
    select
        'incidents_without_data_error',
        'Incidents the figures can use (fct_incidents.data_error NULL: not resolved before created, not before the '
            || 'extract start, not in the future)',
        count(case when data_error is null then 1 end),
        count(*)
    from incidents
    union all
    select
        'changes_without_data_error',
        'Deployed changes the figures can use (fct_changes.data_error NULL, e.g. no negative lead time)',
        count(case when data_error is null then 1 end),
        count(*)
    from {{ ref('fct_changes') }}
    where not is_duplicate_change
    union all
    select
        'deployments_in_reporting_window',
        'Releases and failed deployment attempts between the extract start and now (others are data errors)',
        count(case when data_error is null then 1 end),
        count(*)
    from {{ ref('int_metric_events') }}
    where event_kind in ('release', 'failed_attempt')
),

final as (
    select
        cast(measure as {{ type_text() }}) as measure,
        cast(description as {{ type_text() }}) as description,
        cast(numerator as integer) as numerator,
        cast(denominator as integer) as denominator,
        cast(numerator as double precision) / nullif(denominator, 0) as share
    from measures
)

select measure, description, numerator, denominator, share from final
