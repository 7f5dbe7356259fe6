"""PagerDuty REST API v2 over the synthetic organisation."""

from __future__ import annotations

import re
import threading
import time

from simulator.clock import DAY, iso_z, parse_iso
from simulator.config import PAGERDUTY_TOKEN
from simulator.http import BaseApp, Request, Response, page_slice
from simulator.pagerduty_model import Incident, LogEntry

WEB = "https://acme.pagerduty.com"
API = "https://api.pagerduty.com"
MAX_WINDOW = 183 * DAY  # six months


def _error(status: int, message: str, code: int, errors: list[str] | None = None, headers=None) -> Response:
    error = {"message": message, "code": code}
    if errors:
        error["errors"] = errors
    return Response(status, {"error": error}, headers or {})


class PagerDutyApp(BaseApp):
    api = "pagerduty"

    def __init__(self, sim) -> None:
        super().__init__(sim)
        self.window_lock = threading.Lock()
        self.windows: dict[str, list[int]] = {}

    def authenticate(self, request: Request) -> Response | None:
        header = request.headers.get("authorization", "")
        match = re.fullmatch(r"Token token=(.+)", header.strip())
        if match and match.group(1).strip() == PAGERDUTY_TOKEN:
            return None
        return _error(401, "Unauthorized", 2006)

    def is_paging(self, request: Request) -> bool:
        return request.int_arg("offset", 0) > 0

    def _rate(self, charge: bool = True) -> tuple[dict[str, str], bool]:
        limit = self.sim.config.pagerduty_rate_limit
        now = int(time.time())
        with self.window_lock:
            window = self.windows.setdefault(PAGERDUTY_TOKEN, [now, 0])
            if now >= window[0] + 60:
                window[0], window[1] = now, 0
            if charge:
                window[1] += 1
            used, reset = window[1], window[0] + 60 - now
        headers = {
            "ratelimit-limit": str(limit),
            "ratelimit-remaining": str(max(limit - used, 0)),
            "ratelimit-reset": str(max(reset, 0)),
        }
        return headers, used > limit

    def fault_response(self, kind: str, request: Request) -> Response:
        headers, _ = self._rate(charge=False)
        if kind == "rate_limit":
            headers["Retry-After"] = str(self.faults.faults.retry_after_seconds)
            headers["ratelimit-remaining"] = "0"
            return _error(429, "Rate Limit Exceeded", 2020, headers=headers)
        status = self.faults.next_server_error()
        if status == 502:
            return Response(
                502, b"<html><body>502 Bad Gateway</body></html>", headers, content_type="text/html"
            )
        return _error(
            status, "Internal Server Error" if status == 500 else "Service Unavailable", 2000, headers=headers
        )

    def bad_request(self, message: str) -> Response:
        return _error(400, "Invalid Input Provided", 2001, [message])

    ROUTES = (
        ("GET", re.compile(r"^/incidents/?$"), "incidents"),
        ("GET", re.compile(r"^/incidents/([A-Z0-9]+)/?$"), "incident"),
        ("GET", re.compile(r"^/incidents/([A-Z0-9]+)/log_entries/?$"), "incident_log_entries"),
        ("GET", re.compile(r"^/log_entries/?$"), "log_entries"),
        ("GET", re.compile(r"^/services/?$"), "services"),
    )

    def dispatch(self, request: Request) -> Response:
        headers, exceeded = self._rate()
        if exceeded:
            headers["Retry-After"] = headers["ratelimit-reset"]
            return _error(429, "Rate Limit Exceeded", 2020, headers=headers)
        for method, pattern, name in self.ROUTES:
            match = pattern.match(request.path)
            if match and request.method == method:
                response = getattr(self, name)(request, *match.groups())
                break
        else:
            response = _error(404, "Not Found", 2100)
        response.headers.update(headers)
        response.content_type = "application/json; charset=utf-8"
        return response

    # ----- paging
    def page(self, request: Request, items: list, build, key: str) -> Response:
        limit = request.int_arg("limit", 25)
        offset = request.int_arg("offset", 0)
        if limit < 1 or offset < 0:
            return self.bad_request("Offset and limit must be non-negative, limit positive.")
        limit = min(limit, 100)
        if offset + limit > 10000:
            return _error(
                400,
                "Arguments Caused Error",
                2002,
                [
                    "Offset+limit exceeds maximum allowed value of 10000. Please try to refine your search "
                    "to reduce the returned set of records below this number, like adding a date range."
                ],
            )
        chosen, length = page_slice(items, offset, limit, request)
        total = len(items) if request.arg("total") == "true" else None
        return Response(
            200,
            {
                key: [build(item) for item in chosen],
                "limit": limit,
                "offset": offset,
                "more": offset + limit < length,
                "total": total,
            },
        )

    def _window(self, request: Request, default_days: int | None) -> tuple[float | None, float | None]:
        clock = self.sim.org.clock
        since_text, until_text = request.arg("since"), request.arg("until")
        try:
            since = parse_iso(since_text) if since_text else None
            until = parse_iso(until_text) if until_text else None
        except ValueError:
            raise ValueError("since and until must be ISO 8601 date-times") from None
        if default_days is None:
            return since, until
        if until is None:
            until = clock
        if since is None:
            since = until - 30 * DAY
        return since, until

    # ----- builders
    def ref(self, kind: str, ident: str, summary: str, path: str, html: str | None = None) -> dict:
        out = {"id": ident, "type": kind, "summary": summary, "self": f"{API}/{path}/{ident}"}
        if html is not None:
            out["html_url"] = html
        return out

    def user_ref(self, index: int) -> dict:
        person = self.sim.org.users[index]
        return self.ref("user_reference", person.pd_id, person.name, "users", f"{WEB}/users/{person.pd_id}")

    def service_ref(self, index: int) -> dict:
        service = self.sim.org.pagerduty.services[index]
        return self.ref(
            "service_reference", service.id, service.name, "services", f"{WEB}/service-directory/{service.id}"
        )

    def team_ref(self) -> dict:
        return self.ref("team_reference", "PTEAM01", "Engineering", "teams", f"{WEB}/teams/PTEAM01")

    def policy_ref(self) -> dict:
        return self.ref(
            "escalation_policy_reference",
            "PPOLICY",
            "Engineering on-call",
            "escalation_policies",
            f"{WEB}/escalation_policies/PPOLICY",
        )

    def incident_object(self, incident: Incident) -> dict:
        first = incident.log_entries[0]
        kind, who = incident.last_status_change_by
        status_by = self.user_ref(who) if kind == "user" else self.service_ref(who)
        obj = {
            "id": incident.id,
            "type": "incident",
            "summary": f"[#{incident.number}] {incident.title}",
            "self": f"{API}/incidents/{incident.id}",
            "html_url": f"{WEB}/incidents/{incident.id}",
            "incident_number": incident.number,
            "title": incident.title,
            "description": incident.description,
            "created_at": iso_z(incident.created_at),
            "updated_at": iso_z(incident.updated_at),
            "status": incident.status,
            "incident_key": incident.incident_key,
            "service": self.service_ref(incident.service),
            "assignments": []
            if incident.status != "triggered"
            else [
                {
                    "at": iso_z(incident.created_at),
                    "assignee": self.user_ref(incident.service % len(self.sim.org.users)),
                }
            ],
            "assigned_via": "escalation_policy",
            "last_status_change_at": iso_z(incident.last_status_change_at),
            "resolved_at": iso_z(incident.resolved_at) if incident.resolved_at else None,
            "first_trigger_log_entry": self.ref(
                "trigger_log_entry_reference",
                first.id,
                first.summary,
                "log_entries",
                f"{WEB}/incidents/{incident.id}/log_entries/{first.id}",
            ),
            "alert_counts": {
                "all": 1,
                "triggered": 0 if incident.status == "resolved" else 1,
                "resolved": 1 if incident.status == "resolved" else 0,
            },
            "is_mergeable": True,
            "incident_type": {"name": "incident_default"},
            "escalation_policy": self.policy_ref(),
            "teams": [self.team_ref()],
            "pending_actions": [],
            "acknowledgements": [
                {
                    "at": iso_z(incident.acknowledged_at),
                    "acknowledger": self.user_ref(incident.acknowledged_by),
                }
            ]
            if incident.status == "acknowledged"
            else [],
            "alert_grouping": {
                "grouping_type": "advanced",
                "started_at": iso_z(incident.created_at),
                "ended_at": iso_z(incident.resolved_at) if incident.resolved_at else None,
                "alert_grouping_active": incident.status != "resolved",
            },
            "last_status_change_by": status_by,
            "priority": {
                "id": f"PPRIO{incident.priority[-1]}",
                "type": "priority_reference",
                "summary": incident.priority,
                "self": f"{API}/priorities/PPRIO{incident.priority[-1]}",
                "name": incident.priority,
            },
            "resolve_reason": None,
            "incidents_responders": [],
            "responder_requests": [],
            "urgency": incident.urgency,
        }
        return obj

    def entry_object(self, entry: LogEntry, incident: Incident) -> dict:
        kind, who = entry.agent
        obj = {
            "id": entry.id,
            "type": entry.type,
            "summary": entry.summary,
            "self": f"{API}/log_entries/{entry.id}?incident_id={incident.id}",
            "html_url": f"{WEB}/incidents/{incident.id}/log_entries/{entry.id}",
            "created_at": iso_z(entry.created_at),
            "agent": self.user_ref(who) if kind == "user" else self.service_ref(who),
            "channel": dict(entry.channel),
            "service": self.service_ref(incident.service),
            "incident": self.ref(
                "incident_reference",
                incident.id,
                f"[#{incident.number}] {incident.title}",
                "incidents",
                f"{WEB}/incidents/{incident.id}",
            ),
            "teams": [self.team_ref()],
            "contexts": [],
        }
        if entry.type == "trigger_log_entry":
            obj["event_details"] = {"description": incident.title}
        if entry.type == "acknowledge_log_entry":
            obj["acknowledgement_timeout"] = 1800
        if entry.note:
            obj["note"] = entry.note
        return obj

    # ----- endpoints
    def incidents(self, request: Request) -> Response:
        pd = self.sim.org.pagerduty
        items = pd.incidents
        if request.arg("date_range") != "all":
            try:
                since, until = self._window(request, 30)
            except ValueError as error:
                return self.bad_request(str(error))
            if until < since:
                return self.bad_request("until must be after since.")
            if until - since > MAX_WINDOW:
                return _error(
                    400,
                    "Invalid Input Provided",
                    2001,
                    ["The maximum range for since and until is 6 months."],
                )
            items = [i for i in items if since <= i.created_at < until]
        statuses = set(request.args("statuses[]"))
        if statuses:
            items = [i for i in items if i.status in statuses]
        urgencies = set(request.args("urgencies[]"))
        if urgencies:
            items = [i for i in items if i.urgency in urgencies]
        service_ids = set(request.args("service_ids[]"))
        if service_ids:
            items = [i for i in items if pd.services[i.service].id in service_ids]
        sort_by = request.args("sort_by")
        ordered = list(items)
        for spec in reversed(sort_by or ["created_at:asc"]):
            field, _, direction = spec.partition(":")
            if field not in ("incident_number", "created_at", "resolved_at", "urgency"):
                return self.bad_request(f"sort_by field {field!r} is not supported")
            ordered.sort(
                key=lambda i, f=field: getattr(i, "number" if f == "incident_number" else f) or 0,
                reverse=direction == "desc",
            )
        return self.page(request, ordered, self.incident_object, "incidents")

    def incident(self, request: Request, incident_id: str) -> Response:
        incident = self.sim.org.pagerduty.by_id.get(incident_id)
        if incident is None:
            return _error(404, "Not Found", 2100)
        return Response(200, {"incident": self.incident_object(incident)})

    def _entries(self, request: Request, entries: list, incident_of) -> Response:
        try:
            since, until = self._window(request, None)
        except ValueError as error:
            return self.bad_request(str(error))
        if since is not None:
            entries = [e for e in entries if e.created_at >= since]
        if until is not None:
            entries = [e for e in entries if e.created_at < until]
        if request.arg("is_overview") == "true":
            entries = [e for e in entries if e.type != "annotate_log_entry"]
        ordered = sorted(entries, key=lambda e: e.created_at, reverse=True)
        return self.page(request, ordered, lambda e: self.entry_object(e, incident_of(e)), "log_entries")

    def incident_log_entries(self, request: Request, incident_id: str) -> Response:
        incident = self.sim.org.pagerduty.by_id.get(incident_id)
        if incident is None:
            return _error(404, "Not Found", 2100)
        return self._entries(request, incident.log_entries, lambda e: incident)

    def log_entries(self, request: Request) -> Response:
        pd = self.sim.org.pagerduty
        return self._entries(request, pd.log_entries, lambda e: pd.entry_incident[e.id])

    def services(self, request: Request) -> Response:
        pd = self.sim.org.pagerduty
        items = list(pd.services)
        query = (request.arg("query") or "").lower()
        if query:
            items = [s for s in items if query in s.name.lower()]
        name = request.arg("name")
        if name:
            items = [s for s in items if s.name == name]
        items.sort(key=lambda s: s.name.lower(), reverse=request.arg("sort_by") == "name:desc")
        return self.page(request, items, self.service_object, "services")

    def service_object(self, service) -> dict:
        obj = {
            "id": service.id,
            "summary": service.name,
            "type": "service",
            "self": f"{API}/services/{service.id}",
            "html_url": f"{WEB}/service-directory/{service.id}",
            "name": service.name,
            "description": service.description,
            "auto_resolve_timeout": 14400,
            "acknowledgement_timeout": 1800,
            "created_at": iso_z(service.created_at),
            "updated_at": iso_z(service.created_at),
            "status": "active",
            "alert_creation": "create_alerts_and_incidents",
            "alert_grouping_parameters": {"type": None},
            "integrations": [],
            "escalation_policy": self.policy_ref(),
            "teams": [self.team_ref()],
            "incident_urgency_rule": {"type": "constant", "urgency": "high"},
            "scheduled_actions": [],
            "auto_pause_notifications_parameters": {"enabled": False, "timeout": 300},
        }
        last = self.sim.org.pagerduty.last_incident.get(service.id)
        if last is not None:
            obj["last_incident_timestamp"] = iso_z(last)
        return obj
