{#-
  One row per successful production deployment, with the previous and next successful production deployment
  of the same repository (by deployed_at, then created_at, then id). The first one of a repository is its seed.
-#}
with successful as (
    select * from {{ ref('int_deployments') }} where outcome = 'success'
),

ordered as (
    select
        successful.*,
        row_number() over (
            partition by repository order by deployed_at, created_at, deployment_id
        ) as deployment_sequence,
        lag(deployment_id) over (
            partition by repository order by deployed_at, created_at, deployment_id
        ) as previous_deployment_id,
        lag(commit_sha) over (
            partition by repository order by deployed_at, created_at, deployment_id
        ) as previous_commit_sha,
        lead(deployment_id) over (
            partition by repository order by deployed_at, created_at, deployment_id
        ) as next_deployment_id
    from successful
)

select * from ordered
