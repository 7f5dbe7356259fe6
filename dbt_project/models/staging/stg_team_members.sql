{#-
  The team members: the rows of the seed seeds/team_members.csv and of the file TEAM_MEMBERS_PATH
  (raw.team_members, written by doraflow before each build). GitHub logins lowercased, blanks as NULL; a row
  without a team or without any identity is no row.
-#}
{%- set file_columns = [
    ('member_line', 'integer'), ('team', type_text()), ('github_login', type_text()),
    ('pagerduty_user_id', type_text()), ('name', type_text()),
] -%}
with seed_rows as (
    select 'seed' as member_source, team, github_login, pagerduty_user_id, name
    from {{ ref('team_members') }}
),

file_rows as (
    select 'file' as member_source, team, github_login, pagerduty_user_id, name
    from {{ raw_source('catalog', 'team_members', file_columns) }} as members_file
),

both_sources as (
    select * from seed_rows
    union all
    select * from file_rows
),

renamed as (
    select
        member_source,
        trim(team) as team,
        lower(nullif(trim(github_login), '')) as github_login,
        nullif(trim(pagerduty_user_id), '') as pagerduty_user_id,
        nullif(trim(name), '') as name
    from both_sources
    where nullif(trim(team), '') is not null
        and coalesce(nullif(trim(github_login), ''), nullif(trim(pagerduty_user_id), '')) is not null
)

select * from renamed
