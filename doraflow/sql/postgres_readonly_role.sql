-- Read-only access to the published marts for BI tools (Tableau, Power BI, Metabase, Superset, Grafana, DBeaver).
--
-- The role `dora_reader` can read every table and view of schema `marts`, and nothing else: `raw`, `staging`,
-- `intermediate` and `ops` stay private (permission denied). Run this file once, connected to the warehouse
-- database as the role that runs dbt (the user of WAREHOUSE_POSTGRES_URL; it needs CREATEROLE for the first
-- statement, or let an administrator create the role first):
--
--   psql "$WAREHOUSE_POSTGRES_URL" -f doraflow/sql/postgres_readonly_role.sql
--
-- dbt drops and recreates the mart tables on every run; `alter default privileges` below makes every table the
-- dbt role creates in `marts` from now on readable by `dora_reader` too, so the grants survive each run.
-- Then give each BI tool its own login that inherits the role (password from your secret store, never a file
-- in the repository):
--
--   create role metabase login password '...' in role dora_reader;

do $$
begin
    if not exists (select from pg_roles where rolname = 'dora_reader') then
        create role dora_reader nologin;
    end if;
end
$$;

create schema if not exists marts;

grant usage on schema marts to dora_reader;
grant select on all tables in schema marts to dora_reader;
alter default privileges in schema marts grant select on tables to dora_reader;

-- Nothing else is granted: raw, staging, intermediate and ops are not readable, and dora_reader cannot create
-- objects (PostgreSQL 15 and later no longer let every role create in schema public).
