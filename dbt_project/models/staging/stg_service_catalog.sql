{#-
  The service catalog: the rows of the seed seeds/service_catalog.csv and of the file SERVICE_CATALOG_PATH
  (raw.service_catalog, written by doraflow before each build). Services and repositories lowercased, Jira keys
  uppercased, blanks as NULL; a row without a service is no row.
-#}
{%- set file_columns = [
    ('catalog_line', 'integer'), ('service', type_text()), ('team', type_text()),
    ('github_repository', type_text()), ('pagerduty_service_id', type_text()), ('jira_project_key', type_text()),
] -%}
with seed_rows as (
    select
        'seed' as catalog_source,
        service, team, github_repository, pagerduty_service_id, jira_project_key
    from {{ ref('service_catalog') }}
),

file_rows as (
    select
        'file' as catalog_source,
        service, team, github_repository, pagerduty_service_id, jira_project_key
    from {{ raw_source('catalog', 'service_catalog', file_columns) }} as catalog_file
),

both_sources as (
    select * from seed_rows
    union all
    select * from file_rows
),

renamed as (
    select
        catalog_source,
        lower(trim(service)) as service,
        nullif(trim(team), '') as team,
        lower(nullif(trim(github_repository), '')) as github_repository,
        nullif(trim(pagerduty_service_id), '') as pagerduty_service_id,
        upper(nullif(trim(jira_project_key), '')) as jira_project_key
    from both_sources
    where nullif(trim(service), '') is not null
)

select * from renamed
