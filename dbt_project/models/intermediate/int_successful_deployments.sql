{#-
  One row per successful production deployment, with its place in two orders (by deployed_at, then created_at,
  then id): deployment_sequence over its repository (the first one is the repository's seed), and
  environment_sequence with the previous and next successful deployment of the same (repository, environment)
  (environment names compared case-insensitively, as GitHub does): redeploys and rollbacks are judged per
  environment, so a second region catching up with the same sha is no rollback.
-#}
with successful as (
    select *, lower(environment) as environment_key
    from {{ ref('int_deployments') }}
    where outcome = 'success'
),

ordered as (
    select
        successful.*,
        row_number() over (
            partition by repository order by deployed_at, created_at, deployment_id
        ) as deployment_sequence,
        row_number() over (
            partition by repository, service order by deployed_at, created_at, deployment_id
        ) as service_sequence,
        row_number() over (
            partition by repository, environment_key order by deployed_at, created_at, deployment_id
        ) as environment_sequence,
        lag(deployment_id) over (
            partition by repository, environment_key order by deployed_at, created_at, deployment_id
        ) as previous_deployment_id,
        lag(commit_sha) over (
            partition by repository, environment_key order by deployed_at, created_at, deployment_id
        ) as previous_commit_sha,
        lead(deployment_id) over (
            partition by repository, environment_key order by deployed_at, created_at, deployment_id
        ) as next_deployment_id
    from successful
)

select * from ordered
