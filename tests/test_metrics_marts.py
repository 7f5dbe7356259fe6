"""The metric marts on messy data (issue #10): data errors, the grid, reader columns, Jira without resolutions.

The golden scenario (tests/fixtures/metrics/golden_scenario.py) plus hand-made raw rows, each with the answer
worked out in its comment. The metrics grid runs from EXTRACT_START_DATE 2024-01-01 to today 2024-03-01.

    I6  Shop     2024-02-10 10:00, resolved 09:00 (clock skew)        -> 'resolved_before_created'
    I7  Shop     1990-05-01 10:00, resolved 11:00 (a bad import)       -> 'before_extract_start'
    I8  Shop     2024-03-05 10:00, triggered (after today)             -> 'in_future'
    I9  Billing  2024-02-20 10:00, triggered (open)
    I10 (no service) 2024-02-12 10:00, resolved 10:30                  -> service 'unmapped'
    SHOP-8  Bug, created 02-01 08:00, no resolutiondate, now Closed: To Do -> In Progress 02-01 10:00 ->
            Done 02-02 10:00 -> In Progress 02-03 10:00 (reopened) -> Done 02-04 12:00 -> Closed 02-05 09:00
    SHOP-9  Story, created 02-01 09:00, no resolutiondate: To Do -> Done 02-02 09:00 -> In Progress 02-03 09:00
    (the changelog `created` of the bulkfetch comes as epoch milliseconds on some histories, as the Jira spec shows)
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from doraflow.config import load_settings
from doraflow.transform import dbt_build

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "metrics"))
import golden_scenario as scenario  # noqa: E402
from marts_compare import WITH_ROWS, assert_same_marts  # noqa: E402

ENV = {"EXTRACT_START_DATE": "2024-01-01"}
TODAY = date(2024, 3, 1)
COUNTS = [
    "deployments",
    "deployment_days",
    "releases_with_changes",
    "failed_deployment_attempts",
    "changes",
    "lead_time_n",
    "pr_lead_time_n",
    "change_failures",
    "rework_deployments",
    "incidents_created",
    "incidents_open",
    "incidents_resolved",
    "time_to_restore_n",
    "failed_deployment_recovery_n",
]


def epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


def _issue(issue_id: str, key: str, issue_type: str, status: str, category: str, created: str) -> tuple:
    return (
        issue_id,
        "SHOP",
        None,
        {
            "id": issue_id,
            "key": key,
            "fields": {
                "summary": key,
                "issuetype": {"name": issue_type},
                "priority": {"name": "High"},
                "project": {"key": "SHOP", "id": "10000"},
                "status": {"name": status, "statusCategory": {"key": category, "name": status}},
                "created": created,
                "resolutiondate": None,
            },
        },
    )


def _history(issue_id: str, number: int, created, from_status: str, to_status: str) -> tuple:
    item = {"field": "status", "fieldtype": "jira", "fromString": from_status, "toString": to_status}
    return (
        f"{issue_id}:{number}",
        "SHOP",
        issue_id,
        {"id": str(number), "created": created, "items": [item]},
    )


def messy_rows() -> dict:
    rows = scenario.raw_rows()
    incident = scenario._incident
    extra = [
        incident(
            "I6", 6, "Skewed", "PXSHOP", "Shop", "2024-02-10T10:00:00Z", "resolved", "2024-02-10T09:00:00Z"
        ),
        incident(
            "I7", 7, "Imported", "PXSHOP", "Shop", "1990-05-01T10:00:00Z", "resolved", "1990-05-01T11:00:00Z"
        ),
        incident("I8", 8, "Tomorrow", "PXSHOP", "Shop", "2024-03-05T10:00:00Z", "triggered", None),
        incident("I9", 9, "Invoices stuck", "PXBILL", "Billing", "2024-02-20T10:00:00Z", "triggered", None),
        incident(
            "I10",
            10,
            "Nobody's",
            "PXNONE",
            "None",
            "2024-02-12T10:00:00Z",
            "resolved",
            "2024-02-12T10:30:00Z",
        ),
    ]
    extra[-1]["service"] = None  # an incident without a service: counted under 'unmapped'
    rows["pagerduty__incidents"] += [(i["id"], "pagerduty", None, i) for i in extra]
    rows["jira__issues"] += [
        _issue("10008", "SHOP-8", "Bug", "Closed", "done", "2024-02-01T08:00:00.000+0000"),
        _issue("10009", "SHOP-9", "Story", "In Progress", "indeterminate", "2024-02-01T09:00:00.000+0000"),
    ]
    rows["jira__issue_changelogs"] += [
        _history("10008", 11, "2024-02-01T10:00:00.000+0000", "To Do", "In Progress"),
        _history("10008", 12, epoch_ms("2024-02-02T10:00:00"), "In Progress", "Done"),
        _history("10008", 13, epoch_ms("2024-02-03T10:00:00"), "Done", "In Progress"),
        _history("10008", 14, "2024-02-04T13:00:00.000+0100", "In Progress", "Done"),
        _history("10008", 15, epoch_ms("2024-02-05T09:00:00"), "Done", "Closed"),
        _history("10009", 21, epoch_ms("2024-02-02T09:00:00"), "To Do", "Done"),
        _history("10009", 22, "2024-02-03T09:00:00.000+0000", "Done", "In Progress"),
    ]
    return rows


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    path = tmp_path_factory.mktemp("messy") / "dora.duckdb"
    scenario.write_duckdb(path, messy_rows())
    settings = load_settings(ENV | {"WAREHOUSE_PATH": str(path)}, today=TODAY)
    result = dbt_build(settings, progress=lambda line: None)
    connection = duckdb.connect(str(path), read_only=True)
    yield connection, result
    connection.close()


def rows(connection, sql):
    cursor = connection.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def metric(connection, grain, start, service="all", table="dora_metrics", key_column="service"):
    found = rows(
        connection,
        f"select * from marts.{table} where period_grain = '{grain}' and period_start = date '{start}' "
        f"and {key_column} = '{service}'",
    )
    assert len(found) == 1, (grain, start, service)
    return found[0]


def test_bad_source_data_never_stops_the_build(messy):
    _, result = messy
    # two error tests used to stop the pipeline on an incident resolved before it was created
    assert result.failures == []


def test_incident_data_errors_are_flagged_with_no_duration(messy):
    connection, _ = messy
    incidents = {row["incident_id"]: row for row in rows(connection, "select * from marts.fct_incidents")}
    assert {key: incidents[key]["data_error"] for key in ("I6", "I7", "I8", "I9", "I10", "I1")} == {
        "I6": "resolved_before_created",  # 09:00 < 10:00
        # 1990 is before the extract start; resolved after created, so the first reason is the start
        "I7": "before_extract_start",
        "I8": "in_future",  # 2024-03-05 is after today's end (2024-03-02 00:00)
        "I9": None,
        "I10": None,
        "I1": None,
    }
    assert incidents["I6"]["time_to_restore_minutes"] is None  # flagged: NULL, never -60
    assert incidents["I7"]["time_to_restore_minutes"] is None  # 60 min, but flagged
    assert incidents["I10"]["service"] is None and incidents["I10"]["time_to_restore_minutes"] == 30.0


def test_grid_spans_the_extract_start_to_today_whatever_the_events(messy):
    connection, _ = messy
    # A 1990 incident neither extends nor truncates the grid: 2024-01-01 .. 2024-03-01 = 61 days, 9 weeks (Monday
    # 01-01 .. Monday 02-26), 3 months, for shop, billing, unmapped and all.
    found = rows(
        connection,
        "select period_grain, min(period_start) as first, max(period_start) as last, count(*) as n "
        "from marts.dora_metrics where service = 'all' group by 1 order by 1",
    )
    assert [(r["period_grain"], r["first"], r["last"], r["n"]) for r in found] == [
        ("day", date(2024, 1, 1), date(2024, 3, 1), 61),
        ("month", date(2024, 1, 1), date(2024, 3, 1), 3),
        ("week", date(2024, 1, 1), date(2024, 2, 26), 9),
    ]
    services = {
        r[0] for r in connection.execute("select distinct service from marts.dora_metrics").fetchall()
    }
    assert services == {"shop", "billing", "unmapped", "all"}


def test_observed_days_and_complete_periods(messy):
    connection, _ = messy
    # February lies wholly inside the window and ended before today: complete, 29 observed days
    february = metric(connection, "month", "2024-02-01")
    assert (february["is_complete_period"], february["observed_days"]) == (True, 29)
    # March holds today only: 1 observed day, not complete; the week of Monday 02-26 has 4 days up to today
    march = metric(connection, "month", "2024-03-01")
    assert (march["is_complete_period"], march["observed_days"]) == (False, 1)
    week = metric(connection, "week", "2024-02-26")
    assert (week["is_complete_period"], week["observed_days"]) == (False, 5)  # 26, 27, 28, 29 Feb, 1 Mar
    # frequency per observed day: the week of 02-05 holds D9, D10, D11 (all releases) over 7 days
    assert metric(connection, "week", "2024-02-05")["deployment_frequency_per_day"] == pytest.approx(3 / 7)


def test_flagged_incidents_are_left_out_of_every_figure(messy):
    connection, _ = messy
    shop = metric(connection, "month", "2024-02-01", "shop")
    # created in February on shop: I2, I3, I4 (I6 is flagged); resolved: I2 (120), I4 (30)
    assert (shop["incidents_created"], shop["incidents_resolved"]) == (3, 2)
    assert shop["time_to_restore_n"] == 2 and shop["time_to_restore_mean_minutes"] == pytest.approx(75.0)
    assert metric(connection, "day", "2024-02-10", "shop")["incidents_created"] == 0  # I6's day


def test_reader_columns_beside_each_figure(messy):
    connection, _ = messy
    january = metric(connection, "month", "2024-01-01")
    # lead times 5880 4320 1680 1680 1860 1860: n 6, mean 17280 / 6 = 2880
    assert (january["lead_time_n"], january["lead_time_mean_minutes"]) == (6, pytest.approx(2880.0))
    # per pull request, first commit -> release: PR #1 p1a 01-25 08:00 -> D2 01-29 10:00 = 5880; PR #2
    # 01-30 08:00 -> D3 01-31 12:00 = 1680; PR #3 m1 01-30 05:00 -> D3 = 1860 -> median 1860
    assert (january["pr_lead_time_n"], january["pr_lead_time_median_minutes"]) == (3, pytest.approx(1860.0))
    # releases D2 and D3 both shipped changes: the change failure rate's denominator
    assert january["releases_with_changes"] == 2
    february = metric(connection, "month", "2024-02-01")
    # PR #4 v0pr 02-02 08:30 -> D9 02-05 09:30 = 4380; PR #5 11:50 -> D11 12:20 = 30 -> median 2205
    assert (february["pr_lead_time_n"], february["pr_lead_time_median_minutes"]) == (2, pytest.approx(2205.0))
    # recovery D7 45, D10 70: n 2, mean 57.5, p90 45 + 0.9 * 25 = 67.5
    assert february["failed_deployment_recovery_n"] == 2
    assert february["failed_deployment_recovery_mean_minutes"] == pytest.approx(57.5)
    assert february["failed_deployment_recovery_p90_minutes"] == pytest.approx(67.5)
    # resolved in February (all): I2 120, I4 30, I5 120, I10 30 -> n 4, mean 75, median 75
    assert february["time_to_restore_n"] == 4
    assert february["time_to_restore_mean_minutes"] == pytest.approx(75.0)
    assert february["time_to_restore_median_minutes"] == pytest.approx(75.0)


def test_open_incidents_at_the_period_end_and_now(messy):
    connection, _ = messy
    # At the end of February (03-01 00:00): I3 (shop, 02-05 11:40) and I9 (billing, 02-20 10:00) are open.
    # I3's age: 24 days 12 h 20 min = 35300 min; I9's: 9 days 14 h = 13800 min.
    february = metric(connection, "month", "2024-02-01")
    assert (february["incidents_open"], february["oldest_open_incident_age_minutes"]) == (2, 35300.0)
    billing = metric(connection, "month", "2024-02-01", "billing")
    assert (billing["incidents_open"], billing["oldest_open_incident_age_minutes"]) == (1, 13800.0)
    # the current period counts at now (the end of today, 03-02 00:00): one day older
    march = metric(connection, "month", "2024-03-01")
    assert (march["incidents_open"], march["oldest_open_incident_age_minutes"]) == (2, 36740.0)
    # January's end: I1 resolved 01-31 21:30, nothing open; the day I3 opened, it is open at day's end (12 h 20)
    assert metric(connection, "month", "2024-01-01")["incidents_open"] == 0
    day = metric(connection, "day", "2024-02-05", "shop")
    assert (day["incidents_open"], day["oldest_open_incident_age_minutes"]) == (1, 740.0)


def test_unmapped_events_make_all_the_sum_and_tiers_need_data(messy):
    connection, _ = messy
    unmapped = metric(connection, "month", "2024-02-01", "unmapped")
    assert (unmapped["incidents_resolved"], unmapped["time_to_restore_median_minutes"]) == (1, 30.0)
    # no repository behind billing or unmapped: no deployment-frequency tier (not 'low'); shop has one
    assert unmapped["deployment_frequency_tier"] is None
    assert metric(connection, "month", "2024-02-01", "billing")["deployment_frequency_tier"] is None
    assert metric(connection, "month", "2024-03-01", "shop")["deployment_frequency_tier"] == "low"
    # no sample, no tier: March has no lead time
    assert metric(connection, "month", "2024-03-01", "shop")["lead_time_tier"] is None
    # 'all' is the sum of the services for every count of every period
    sums = ", ".join(
        f"sum({c}) filter (where service <> 'all') - max({c}) filter (where service = 'all')" for c in COUNTS
    )
    differences = connection.execute(
        f"select period_grain, period_start, {sums} from marts.dora_metrics group by 1, 2"
    ).fetchall()
    assert differences and all(value == 0 for row in differences for value in row[2:])
    team = metric(connection, "month", "2024-02-01", "unassigned", "dora_metrics_by_team", "team")
    assert (team["incidents_resolved"], team["incidents_open"]) == (4, 2)  # no catalog: every team unassigned


def test_data_errors_are_counted_in_coverage(messy):
    connection, _ = messy
    coverage = {row["measure"]: row for row in rows(connection, "select * from marts.dora_coverage")}
    # 10 incidents, 3 flagged (I6, I7, I8)
    assert (
        coverage["incidents_without_data_error"]["numerator"],
        coverage["incidents_without_data_error"]["denominator"],
    ) == (7, 10)
    assert coverage["changes_without_data_error"]["share"] == 1.0
    # releases D1 (the seed) D2 D3 D7 D9 D10 D11 and the failed D4 all lie inside the window
    assert coverage["deployments_in_reporting_window"]["denominator"] == 8


def test_jira_done_without_resolution_and_epoch_millisecond_changelogs(messy):
    connection, _ = messy
    issues = {row["issue_key"]: row for row in rows(connection, "select * from marts.fct_issues")}
    # SHOP-8 has no resolutiondate: resolved at its last entry into a done-category status from another one,
    # 2024-02-04T13:00+01:00 = 12:00 UTC (Done -> Closed stays done: not a new entry)
    shop8 = issues["SHOP-8"]
    assert shop8["resolved_at"] == datetime(2024, 2, 4, 12, 0)
    assert shop8["cycle_time_minutes"] == pytest.approx(4440.0)  # first In Progress 02-01 10:00 -> 3 d 2 h
    assert shop8["lead_time_minutes"] == pytest.approx(4560.0)  # created 02-01 08:00 -> 3 d 4 h
    # SHOP-9 reached Done, then was reopened: not resolved now
    assert issues["SHOP-9"]["resolved_at"] is None
    assert issues["SHOP-7"]["resolved_at"] == datetime(2024, 1, 31, 12, 0)  # its resolutiondate
    # the epoch-millisecond changelog times land as UTC timestamps
    intervals = rows(
        connection,
        "select status, valid_from from marts.fct_issue_status_intervals where issue_key = 'SHOP-8' "
        "order by interval_number",
    )
    assert [(r["status"], r["valid_from"]) for r in intervals] == [
        ("To Do", datetime(2024, 2, 1, 8, 0)),
        ("In Progress", datetime(2024, 2, 1, 10, 0)),
        ("Done", datetime(2024, 2, 2, 10, 0)),
        ("In Progress", datetime(2024, 2, 3, 10, 0)),
        ("Done", datetime(2024, 2, 4, 12, 0)),
        ("Closed", datetime(2024, 2, 5, 9, 0)),
    ]


@pytest.mark.postgres
@pytest.mark.slow
def test_postgres_gives_the_same_marts_on_messy_data(messy, tmp_path, postgres_database):
    duck, _ = messy
    settings = load_settings(
        ENV
        | {
            "WAREHOUSE_TARGET": "postgres",
            "WAREHOUSE_POSTGRES_URL": postgres_database,
            "WAREHOUSE_PATH": str(tmp_path / "dora.duckdb"),
        },
        today=TODAY,
    )
    scenario.write_postgres(postgres_database, messy_rows())
    result = dbt_build(settings, progress=lambda line: None)
    assert result.failures == []

    import psycopg2

    pg = psycopg2.connect(postgres_database)
    try:
        assert_same_marts(duck, pg, require_rows=WITH_ROWS)
    finally:
        pg.close()


@pytest.fixture(scope="module")
def tokyo(tmp_path_factory):
    """The golden scenario on the Asia/Tokyo calendar, today pinned: the window's ends follow the calendar."""
    path = tmp_path_factory.mktemp("tokyo") / "dora.duckdb"
    scenario.write_duckdb(path, messy_rows())
    settings = load_settings(
        ENV | {"WAREHOUSE_PATH": str(path), "REPORTING_TIMEZONE": "Asia/Tokyo"}, today=TODAY
    )
    dbt_build(settings, progress=lambda line: None)
    connection = duckdb.connect(str(path), read_only=True)
    yield connection
    connection.close()


def test_reporting_calendar_sets_the_window_ends(tokyo):
    window = rows(tokyo, "select * from intermediate.int_reporting_window")[0]
    # the extract start is 00:00 UTC = 09:00 in Tokyo, still 2024-01-01; today ends at 03-02 00:00 Tokyo =
    # 03-01 15:00 UTC
    assert (window["first_day"], window["today"]) == (date(2024, 1, 1), date(2024, 3, 1))
    assert window["now_at"] == datetime(2024, 3, 1, 15, 0)
    # February ends 03-01 00:00 Tokyo = 02-29 15:00 UTC: I3 (02-05 11:40 UTC) is 24 d 3 h 20 min old
    february = metric(tokyo, "month", "2024-02-01", "shop")
    assert february["oldest_open_incident_age_minutes"] == pytest.approx(24 * 1440 + 200.0)
