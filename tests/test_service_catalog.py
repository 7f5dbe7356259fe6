"""SERVICE_CATALOG_PATH: validated before any request, written to raw.service_catalog, read by the marts.

The dbt tests run on the golden scenario (tests/fixtures/metrics/golden_scenario.py): one repository `acme/shop`
and two PagerDuty services, `Shop` (PXSHOP, 4 incidents) and `Billing` (PXBILL, 1 incident), no catalog. Without a
catalog the services are `shop` (the repository's name, which PagerDuty's `Shop` matches by name) and `billing`.
"""

from __future__ import annotations

import dataclasses
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from doraflow.config import ConfigError, load_settings
from doraflow.errors import TransformError
from doraflow.service_catalog import CatalogEntry, read_service_catalog, write_service_catalog
from doraflow.transform import dbt_build
from doraflow.warehouse import duckdb_connect

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "metrics"))
import golden_scenario as scenario  # noqa: E402

HEADER = "service,team,github_repository,pagerduty_service_id,jira_project_key\n"


def write(tmp_path: Path, text: str, name: str = "catalog.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def settings_with(path: Path | None, warehouse: Path | None = None):
    env = {"WAREHOUSE_PATH": str(warehouse or Path("warehouse/dora.duckdb"))}
    if path is not None:
        env["SERVICE_CATALOG_PATH"] = str(path)
    return load_settings(env, today=date(2024, 3, 1))


def test_entries_are_normalised_and_blank_cells_are_none(tmp_path):
    path = write(
        tmp_path,
        "\ufeff"
        + HEADER  # a BOM, as spreadsheet tools write it
        + " Storefront ,Web Team,Acme/Shop,PXSHOP,shop\n"
        "\n"
        "storefront,Web Team,acme/shop-admin,,\n"
        "Payments,,,PXBILL,PAY\n",
    )
    entries = read_service_catalog(path)
    assert entries == (
        CatalogEntry(2, "storefront", "Web Team", "acme/shop", "PXSHOP", "SHOP"),
        CatalogEntry(4, "storefront", "Web Team", "acme/shop-admin", None, None),
        CatalogEntry(5, "payments", None, None, "PXBILL", "PAY"),
    )
    assert settings_with(path).service_catalog == entries


def test_a_header_with_only_some_columns_is_enough(tmp_path):
    path = write(tmp_path, "github_repository,service\nacme/shop,storefront\n")
    assert read_service_catalog(path) == (CatalogEntry(2, "storefront", None, "acme/shop", None, None),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("team,github_repository\nweb,acme/shop\n", "the first line must be a header naming the columns"),
        ("service,owner\nshop,me\n", "header 'service,owner' has unknown or repeated columns"),
        (HEADER + "shop,web,acme/shop\n", "line 2: 3 values for 5 columns"),
        (HEADER + "shop,web,acme/shop,,\n ,web,acme/other,,\n", "line 3: service is empty"),
        (HEADER + "shop,web,shop,,\n", "line 2: github_repository must look like owner/name, got 'shop'"),
        (HEADER + "shop,web,,,shop-1\n", "line 2: jira_project_key must be a key like ABC, got 'shop-1'"),
        (
            HEADER + "shop,web,acme/shop,,\ncart,web,ACME/Shop,,\n",
            "line 3: github_repository 'acme/shop' is already listed on line 2 (service 'shop')",
        ),
        (
            HEADER + "shop,web,,PX1,\nbilling,pay,,PX1,\n",
            "line 3: pagerduty_service_id 'PX1' is already listed on line 2 (service 'shop')",
        ),
        (
            HEADER + "shop,web,acme/shop,,\nShop,payments,acme/cart,,\n",
            "line 3: service 'shop' has team 'payments' here and 'web' on line 2",
        ),
        (
            HEADER + "shop,web,acme/shop,,SHOP\nshop,web,acme/cart,,CART\n",
            "line 3: service 'shop' has jira_project_key 'CART' here and 'SHOP' on line 2",
        ),
    ],
)
def test_a_malformed_catalog_stops_the_run_naming_file_and_line(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as raised:
        settings_with(path)
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"SERVICE_CATALOG_PATH {str(path)!r}")


MONOREPO_HEADER = (
    "service,team,github_repository,environment_pattern,path_prefixes,pagerduty_service_id,jira_project_key\n"
)


def test_a_monorepo_lists_its_repository_under_several_services(tmp_path):
    path = write(
        tmp_path,
        MONOREPO_HEADER
        + "payments,money,acme/mono,^payments-production,services/payments/;libs/money/,PXPAY,PAY\n"
        "search,find,acme/mono,^search-production,services/search/,,\n"
        "platform,ops,acme/mono,,,,\n"
        "shop,web,acme/shop,,,,\n",
    )
    entries = read_service_catalog(path)
    assert [(e.line, e.service, e.environment_pattern, e.path_prefixes) for e in entries] == [
        (2, "payments", "^payments-production", ("services/payments/", "libs/money/")),
        (3, "search", "^search-production", ("services/search/",)),
        (4, "platform", None, ()),
        (5, "shop", None, ()),
    ]
    assert entries[0].path_prefixes_text == "services/payments/;libs/money/"
    assert entries[2].path_prefixes_text is None
    # the older five-column form reads the same entries, without patterns
    old = write(tmp_path, HEADER + "shop,web,acme/shop,,\n", "old.csv")
    assert read_service_catalog(old) == (CatalogEntry(2, "shop", "web", "acme/shop", None, None),)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            "a,,acme/mono,,services/a/,,\nb,,acme/mono,,services/b/,,\n",
            "line 3: github_repository 'acme/mono' is already listed on line 2 (service 'a') without "
            "environment_pattern",
        ),
        (
            "a,,acme/mono,^a-prod,,,\na,,acme/mono,^a-live,,,\n",
            "line 3: github_repository 'acme/mono' is already listed on line 2 for service 'a'; list it once",
        ),
        ("a,,acme/mono,^a-(prod,,,\n", "line 2: environment_pattern is not a valid regular expression"),
        ("a,,acme/mono,,services/a/;;x/,,\n", "line 2: path_prefixes must be repository paths"),
        ("a,,acme/mono,,/services/a/,,\n", "line 2: path_prefixes must be repository paths"),
        ("a,,acme/mono,,services/../b/,,\n", "line 2: path_prefixes must be repository paths"),
        ("a,,acme/mono,,x/;x/,,\n", "line 2: path_prefixes lists a prefix twice"),
        ("a,,,^a-prod,,PX1,\n", "line 2: environment_pattern and path_prefixes need a github_repository"),
    ],
)
def test_an_ambiguous_monorepo_catalog_is_refused_naming_the_line(tmp_path, rows, message):
    path = write(tmp_path, MONOREPO_HEADER + rows)
    with pytest.raises(ConfigError) as raised:
        settings_with(path)
    assert message in str(raised.value)
    assert str(raised.value).startswith(f"SERVICE_CATALOG_PATH {str(path)!r}")


def test_a_catalog_table_written_by_an_older_doraflow_gains_the_monorepo_columns(tmp_path):
    warehouse = tmp_path / "dora.duckdb"
    with duckdb.connect(
        str(warehouse)
    ) as connection:  # raw.service_catalog as the five-column doraflow made it
        connection.execute("create schema raw")
        connection.execute(
            "create table raw.service_catalog (catalog_line integer not null, service text not null, team text, "
            "github_repository text, pagerduty_service_id text, jira_project_key text)"
        )
        connection.execute("insert into raw.service_catalog values (2, 'old', null, 'acme/old', null, null)")
    path = write(tmp_path, MONOREPO_HEADER + "pay,money,acme/mono,^pay-prod,services/pay/;libs/,,\n")
    assert write_service_catalog(settings_with(path, warehouse)) == 1
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.execute(
            "select catalog_line, service, team, github_repository, environment_pattern, path_prefixes "
            "from raw.service_catalog"
        ).fetchall() == [(2, "pay", "money", "acme/mono", "^pay-prod", "services/pay/;libs/")]


def test_a_missing_or_binary_catalog_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"catalog\.csv'\: no such file"):
        settings_with(tmp_path / "catalog.csv")
    binary = tmp_path / "catalog.xlsx"
    binary.write_bytes(b"PK\x03\x04\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot read it as UTF-8 text"):
        settings_with(binary)


@pytest.mark.parametrize("value", ["4GB", "512 MiB", "1.5gb", "50%"])
def test_duckdb_memory_limit_reaches_every_connection(tmp_path, value):
    settings = load_settings({"WAREHOUSE_PATH": str(tmp_path / "w.duckdb"), "DUCKDB_MEMORY_LIMIT": value})
    expected = (
        duckdb.connect(config={"memory_limit": value})
        .execute("select current_setting('memory_limit')")
        .fetchone()
    )
    with duckdb_connect(settings) as connection:
        assert connection.execute("select current_setting('memory_limit')").fetchone() == expected


@pytest.mark.parametrize("value", ["lots", "4", "150%", "-1GB"])
def test_a_malformed_duckdb_memory_limit_is_refused(value):
    with pytest.raises(ConfigError, match=f"DUCKDB_MEMORY_LIMIT must be a size like 4GB.*got '{value}'"):
        load_settings({"DUCKDB_MEMORY_LIMIT": value})


def services(connection) -> dict:
    """What the marts say about services: dim_services rows, and the service/team of deployments and incidents."""
    return {
        "dim_services": connection.execute(
            "select service, team, github_repository, pagerduty_service_id, jira_project_key "
            "from marts.dim_services order by service"
        ).fetchall(),
        "deployments": connection.execute(
            "select service, team, count(*) from marts.fct_deployments group by all order by all"
        ).fetchall(),
        "incidents": connection.execute(
            "select service, team, count(*) from marts.fct_incidents group by all order by all"
        ).fetchall(),
    }


@pytest.mark.slow
def test_the_catalog_file_maps_services_and_teams_and_a_rerun_without_it_forgets_it(tmp_path):
    warehouse = tmp_path / "dora.duckdb"
    scenario.write_duckdb(warehouse)
    # acme/shop and PXSHOP become 'storefront' of team 'web'; Billing stays unmapped by id, but the catalog names
    # a service 'billing' (team 'payments'), which PagerDuty's 'Billing' matches by name.
    catalog = write(
        tmp_path,
        HEADER + "Storefront,web,acme/shop,PXSHOP,SHOP\nbilling,payments,,,\n",
    )
    lines: list[str] = []
    assert dbt_build(settings_with(catalog, warehouse), progress=lines.append).failures == []
    assert f"service catalog: 2 entries from {catalog}" in lines
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.execute("select count(*) from raw.service_catalog").fetchone() == (2,)
        # The scenario: 9 production deployments with a terminal outcome (D1-D4, D7-D11), 4 Shop incidents,
        # 1 Billing incident.
        assert services(connection) == {
            "dim_services": [
                ("billing", "payments", None, "PXBILL", None),
                ("storefront", "web", "acme/shop", "PXSHOP", "SHOP"),
            ],
            "deployments": [("storefront", "web", 9)],
            "incidents": [("billing", "payments", 1), ("storefront", "web", 4)],
        }

    # The setting removed: the file's rows are gone (replaced, not appended) and names come from the data again.
    assert dbt_build(settings_with(None, warehouse), progress=lambda line: None).failures == []
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        assert connection.execute("select count(*) from raw.service_catalog").fetchone() == (0,)
        assert services(connection) == {
            "dim_services": [
                ("billing", None, None, "PXBILL", None),
                ("shop", None, "acme/shop", "PXSHOP", None),
            ],
            "deployments": [("shop", None, 9)],
            "incidents": [("billing", None, 1), ("shop", None, 4)],
        }


@pytest.mark.postgres
@pytest.mark.slow
def test_the_catalog_file_maps_services_on_postgresql_too(tmp_path, postgres_database):
    import psycopg2

    scenario.write_postgres(postgres_database)
    catalog = write(tmp_path, HEADER + "Storefront,web,acme/shop,PXSHOP,SHOP\nbilling,payments,,,\n")
    settings = load_settings(
        {
            "WAREHOUSE_TARGET": "postgres",
            "WAREHOUSE_POSTGRES_URL": postgres_database,
            "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb"),
            "SERVICE_CATALOG_PATH": str(catalog),
        },
        today=date(2024, 3, 1),
    )
    assert dbt_build(settings, progress=lambda line: None).failures == []
    connection = psycopg2.connect(postgres_database)
    try:
        with connection.cursor() as cursor:
            cursor.execute("select catalog_line, service, team from raw.service_catalog order by 1")
            assert cursor.fetchall() == [(2, "storefront", "web"), (3, "billing", "payments")]
            cursor.execute(
                "select service, team, github_repository, pagerduty_service_id, jira_project_key "
                "from marts.dim_services order by service"
            )
            # the same rows as on DuckDB (test above), worked out there from the scenario
            assert cursor.fetchall() == [
                ("billing", "payments", None, "PXBILL", None),
                ("storefront", "web", "acme/shop", "PXSHOP", "SHOP"),
            ]
    finally:
        connection.close()


@pytest.mark.slow
def test_dbt_refuses_a_service_with_two_teams_even_past_the_file_check(tmp_path):
    # The file check cannot see the seed's rows; dbt's own test on stg_service_catalog is the guard of the union.
    # Here the two rows bypass the file check to prove that guard fails the build and names it.
    warehouse = tmp_path / "dora.duckdb"
    scenario.write_duckdb(warehouse)
    settings = dataclasses.replace(
        settings_with(None, warehouse),
        service_catalog=(
            CatalogEntry(2, "shop", "web", "acme/shop", None, None),
            CatalogEntry(3, "shop", "payments", None, "PXSHOP", None),
        ),
    )
    with pytest.raises(TransformError, match="service_catalog_one_team_per_service"):
        dbt_build(settings, progress=lambda line: None)
