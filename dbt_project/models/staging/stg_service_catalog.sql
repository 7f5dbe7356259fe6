{#-
  The service catalog: the rows of the seed seeds/service_catalog.csv and of the file SERVICE_CATALOG_PATH
  (raw.service_catalog, written by doraflow before each build). Services and repositories lowercased, Jira keys
  uppercased, blanks as NULL; a row without a service is no row. catalog_order: the row's place (seed rows first,
  then the file's lines), which decides between overlapping environment patterns (int_repository_services).
-#}
{%- set file_columns = [
    ('catalog_line', 'integer'), ('service', type_text()), ('team', type_text()),
    ('github_repository', type_text()), ('pagerduty_service_id', type_text()), ('jira_project_key', type_text()),
    ('environment_pattern', type_text()), ('path_prefixes', type_text()),
] -%}
with seed_rows as (
    select
        'seed' as catalog_source,
        cast(0 as integer) as catalog_line,
        service, team, github_repository, environment_pattern, path_prefixes, pagerduty_service_id, jira_project_key
    from {{ ref('service_catalog') }}
),

file_rows as (
    select
        'file' as catalog_source,
        cast(catalog_line as integer) as catalog_line,
        service, team, github_repository, environment_pattern, path_prefixes, pagerduty_service_id, jira_project_key
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
        row_number() over (
            order by case when catalog_source = 'seed' then 0 else 1 end, catalog_line, service, github_repository
        ) as catalog_order,
        lower(trim(service)) as service,
        nullif(trim(team), '') as team,
        lower(nullif(trim(github_repository), '')) as github_repository,
        nullif(trim(environment_pattern), '') as environment_pattern,
        nullif(trim(path_prefixes), '') as path_prefixes,
        nullif(trim(pagerduty_service_id), '') as pagerduty_service_id,
        upper(nullif(trim(jira_project_key), '')) as jira_project_key
    from both_sources
    where nullif(trim(service), '') is not null
)

select * from renamed
