"""PagerDuty REST v2 streams: services, incidents and log entries (account scope `pagerduty`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from doraflow.errors import SourceError
from extractors.core import ChangeFilter, StreamContext, day_start, iso, parse_time
from extractors.http import RepeatedPageGuard

LIMIT = 100
OFFSET_CEILING = 10_000  # offset + limit above this answers 400 (error code 2002)
MAX_WINDOW = timedelta(days=170)  # the API allows at most six months per since/until range (with slack)
MIN_WINDOW = timedelta(minutes=1)
SWEEP_ATTEMPTS = 3  # walks of one listing before a sweep that never adds up fails


def _offset_pages(
    ctx: StreamContext, path: str, collection: str, params: dict, asked: dict | None = None
) -> Iterator[list]:
    """offset/limit/more pagination; raises _CeilingReached before passing the 10,000 ceiling.
    `asked["total"]` receives the listing's length announced by the first page."""
    offset = 0
    guard = RepeatedPageGuard()
    while True:
        query = {**params, "limit": LIMIT, "offset": offset}
        if offset == 0:
            query["total"] = "true"  # lets a window too big for the offset ceiling be split at once
        for _ in range(ctx.client.max_retries + 1):
            response = ctx.client.get(path, params=query, allow_status=(400,))
            body = response.body if isinstance(response.body, dict) else {}
            if response.status == 400:
                code = (body.get("error") or {}).get("code") if isinstance(body.get("error"), dict) else None
                if code == 2002 or str(code) == "2002":
                    raise _CeilingReached()
                message = (body.get("error") or {}).get("message", "bad request")
                raise SourceError(f"pagerduty: HTTP 400 {message} for GET /{path} (the request was rejected)")
            items = body.get(collection)
            if not isinstance(items, list):
                raise SourceError(f"pagerduty: unexpected answer shape for GET /{path} (no '{collection}')")
            if not guard.is_repeat(items):
                break
            ctx.client.counters.retries += 1
        else:
            raise SourceError(f"pagerduty: GET /{path} keeps answering with the previous page; rerun later")
        guard.accept(items)
        total = body.get("total")
        if offset == 0 and asked is not None:
            asked["total"] = total if isinstance(total, int) else None
        if offset == 0 and isinstance(total, int) and total > OFFSET_CEILING:
            raise _CeilingReached()
        yield items
        if not body.get("more") or not items:
            return
        offset += len(items)
        if offset + LIMIT > OFFSET_CEILING:
            raise _CeilingReached()


class _CeilingReached(Exception):
    pass


def _identity(item: object, position: int) -> object:
    return item.get("id") if isinstance(item, dict) and item.get("id") is not None else ("#", position)


def _sweep(ctx: StreamContext, path: str, collection: str, params: dict) -> list:
    """Every item of one listing, checked against what the API said it holds before anyone advances a state.

    An offset walk of a listing that changes under it can serve an item twice (one was added in front:
    harmless) or skip items (a page repeated after a shift, an item removed in front: lost). A walk is
    accepted when it received at least as many distinct ids as the first page's `total` announced;
    otherwise the listing is walked again from the first page, up to SWEEP_ATTEMPTS times, then the
    stream fails in one line (its state does not move, so the next run asks again)."""
    distinct = total = 0
    for _ in range(SWEEP_ATTEMPTS):
        asked: dict = {}
        items: dict[object, object] = {}
        for page in _offset_pages(ctx, path, collection, params, asked):
            for item in page:
                items.setdefault(_identity(item, len(items)), item)
        total, distinct = asked.get("total"), len(items)
        if total is None or distinct >= total:
            return list(items.values())
        ctx.client.counters.retries += 1
    raise SourceError(
        f"pagerduty: GET /{path} kept changing while it was paged ({total} {collection} announced, "
        f"{distinct} distinct received in {SWEEP_ATTEMPTS} walks); nothing was advanced, rerun later"
    )


def _windows(since: datetime) -> list[tuple[datetime, datetime | None]]:
    """Windows of at most MAX_WINDOW from `since`; the last one is open (`until` left to the API's now,
    so a server clock ahead of ours loses nothing)."""
    now = datetime.now(UTC)
    windows: list[tuple[datetime, datetime | None]] = []
    start = since
    while now - start > MAX_WINDOW:
        windows.append((start, start + MAX_WINDOW))
        start = start + MAX_WINDOW
    windows.append((start, None))
    return windows


def _window_items(ctx: StreamContext, path: str, collection: str, params: dict, since, until) -> list:
    """Every item of [since, until); a window holding more than 10,000 is split in two, recursively."""
    query = {**params, "since": iso(since), "time_zone": "UTC"}
    if until is not None:
        query["until"] = iso(until)
    try:
        return _sweep(ctx, path, collection, query)
    except _CeilingReached:
        end = until or datetime.now(UTC)
        if end - since <= MIN_WINDOW:
            raise SourceError(
                f"pagerduty: more than {OFFSET_CEILING} {collection} between {iso(since)} and {iso(end)}; "
                "cannot split the window further"
            ) from None
        middle = since + (end - since) / 2
        return _window_items(ctx, path, collection, params, since, middle) + _window_items(
            ctx, path, collection, params, middle, until
        )


def services(ctx: StreamContext) -> None:
    wanted = set(ctx.settings.pagerduty.service_ids)
    changes = ChangeFilter(ctx.state.get("recent"))
    found = set()
    for service in _sweep(ctx, "services", "services", {"time_zone": "UTC"}):
        identity = service.get("id") if isinstance(service, dict) else None
        if wanted and identity not in wanted:
            continue
        found.add(identity)
        if identity is None or changes.changed(str(identity), None, service):
            ctx.add(None, service)
    missing = sorted(wanted - found)
    if missing:
        raise SourceError(
            f"pagerduty: service(s) {', '.join(missing)} not found (check PAGERDUTY_SERVICE_IDS)"
        )
    ctx.flush({"recent": changes.state(None)})


def _service_filter(ctx: StreamContext) -> dict:
    ids = ctx.settings.pagerduty.service_ids
    return {"service_ids[]": list(ids)} if ids else {}


def incidents(ctx: StreamContext) -> None:
    """Incidents created since the watermark - overlap, in windows of at most six months; unresolved
    incidents are re-read one by one until they are resolved."""
    state = ctx.state
    floor = ctx.floor(state.get("watermark"))
    changes = ChangeFilter(state.get("recent"))
    watermark = parse_time(state.get("watermark"))
    open_ids: dict[str, str] = dict(state.get("open", {}))
    listed: set[str] = set()

    def take(incident: dict) -> None:
        nonlocal watermark
        cursor = parse_time(incident.get("created_at"))
        identity = incident.get("id")
        if identity is not None:
            listed.add(str(identity))
            if incident.get("status") == "resolved":
                open_ids.pop(str(identity), None)
            else:
                open_ids[str(identity)] = incident.get("created_at")
        if identity is None or changes.changed(str(identity), cursor, incident):
            ctx.add(None, incident)

    params = {**_service_filter(ctx), "sort_by": "created_at:asc"}
    for since, end in _windows(floor):
        for incident in _window_items(ctx, "incidents", "incidents", params, since, end):
            if isinstance(incident, dict):
                cursor = parse_time(incident.get("created_at"))
                if cursor is not None and (watermark is None or cursor > watermark):
                    watermark = cursor
                take(incident)
            else:
                ctx.add(None, incident)
    for identity in sorted(set(open_ids) - listed):
        response = ctx.client.get(f"incidents/{identity}", allow_status=(404,))
        if response.status == 404:
            open_ids.pop(identity, None)
            continue
        incident = response.body.get("incident") if isinstance(response.body, dict) else None
        if not isinstance(incident, dict):
            raise SourceError(f"pagerduty: unexpected answer shape for GET /incidents/{identity}")
        take(incident)
    new_floor = ctx.floor(iso(watermark)) if watermark else None
    recent = changes.state(day_start(new_floor))
    # open incidents below the overlap are re-read by id every run: keep their hashes so an unchanged
    # one is not landed again (a run without changes lands nothing)
    recent.update({key: value for key, value in changes.state(None).items() if key in open_ids})
    ctx.flush({"watermark": iso(watermark) if watermark else None, "open": open_ids, "recent": recent})


def incident_log_entries(ctx: StreamContext) -> None:
    """Every log entry of the account created since the watermark - overlap (`GET /log_entries`, one call
    per 100 entries instead of one per incident), keyed to its incident."""
    state = ctx.state
    floor = ctx.floor(state.get("watermark"))
    wanted = set(ctx.settings.pagerduty.service_ids)
    changes = ChangeFilter(state.get("recent"))
    watermark = parse_time(state.get("watermark"))
    for since, end in _windows(floor):
        for entry in _window_items(ctx, "log_entries", "log_entries", {"is_overview": "false"}, since, end):
            if not isinstance(entry, dict):
                ctx.add(None, entry)
                continue
            service = entry.get("service") if isinstance(entry.get("service"), dict) else {}
            if wanted and service.get("id") not in wanted:
                continue
            cursor = parse_time(entry.get("created_at"))
            if cursor is not None and (watermark is None or cursor > watermark):
                watermark = cursor
            incident = entry.get("incident") if isinstance(entry.get("incident"), dict) else {}
            identity = entry.get("id")
            if identity is None or changes.changed(str(identity), cursor, entry):
                ctx.add(incident.get("id"), entry)
    new_floor = ctx.floor(iso(watermark)) if watermark else None
    ctx.flush(
        {"watermark": iso(watermark) if watermark else None, "recent": changes.state(day_start(new_floor))}
    )


STREAM_FUNCTIONS = {
    "services": services,
    "incidents": incidents,
    "incident_log_entries": incident_log_entries,
}
