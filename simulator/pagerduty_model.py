"""The synthetic PagerDuty side: services, incidents and their log entries."""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

from simulator.clock import DAY, MINUTE, EventLoop
from simulator.teams import TeamPicks, team_of_repository

ID_CHARS = string.ascii_uppercase + string.digits


@dataclass(slots=True, eq=False)
class Service:
    id: str
    name: str
    created_at: int
    description: str


@dataclass(slots=True, eq=False)
class LogEntry:
    id: str
    type: str
    created_at: int
    agent: tuple  # ("service", index) or ("user", index)
    channel: dict
    summary: str
    note: str | None = None


@dataclass(slots=True, eq=False)
class Incident:
    id: str
    number: int
    title: str
    description: str
    service: int
    created_at: int
    urgency: str
    priority: str
    incident_key: str
    status: str = "triggered"
    updated_at: int = 0
    last_status_change_at: int = 0
    last_status_change_by: tuple = ()
    acknowledged_by: int | None = None
    acknowledged_at: int | None = None
    resolved_at: int | None = None
    log_entries: list = field(default_factory=list)


class PagerDutyAccount:
    def __init__(self, org) -> None:
        self.org = org
        config = org.config
        self.rng = random.Random(f"{config.seed}:pagerduty")
        self.team_picks = TeamPicks(f"{config.seed}:pagerduty-teams", len(org.users))
        self.loop = EventLoop()
        self.services: list[Service] = []
        for index in range(config.services):
            name = config.service_name(index)
            if index == 2:
                name = name.title()  # one service whose name differs from its repository in case only
            self.services.append(Service(self._id("P", 7), name, org.start - 30 * DAY, f"The {name} service"))
        self.services.append(
            Service(
                self._id("P", 7),
                "legacy-billing",
                org.start - 300 * DAY,
                "Old billing system (no repository)",
            )
        )
        self.incidents: list[Incident] = []
        self.by_id: dict[str, Incident] = {}
        self.last_incident: dict[str, int] = {}
        self.log_entries: list[LogEntry] = []  # every entry, in creation order
        self.entry_incident: dict[str, Incident] = {}
        rate = max(config.incident_rate * max(config.deploys_per_day, 0.05) * 0.4, 0.02) / DAY
        self.background_rate = rate
        for index in range(len(self.services)):  # every service has at least one incident in the first half
            first = org.start + self.rng.uniform(0, config.days / 2) * DAY
            self.loop.at(first, self._background, index)
        # an incident still open when the history ends (on the service without a repository)
        self.loop.at(org.end - self.rng.uniform(2, 8) * MINUTE, self._open_at_end, len(self.services) - 1)

    def _id(self, prefix: str, length: int) -> str:
        return prefix + "".join(self.rng.choice(ID_CHARS) for _ in range(length - 1))

    def schedule_incident(self, service: int, at: float, repo: str, deployment) -> None:
        self.loop.at(at, self._trigger_from_deploy, service, repo, deployment.sha)

    def _background(self, now, service: int) -> None:
        self.loop.at(now + self.rng.expovariate(self.background_rate), self._background, service)
        title = self.rng.choice(
            (
                "Disk usage above 90% on db-primary",
                "Upstream provider returning 503",
                "Certificate expires in 7 days",
                "Queue depth above threshold",
                "Synthetic check failing from eu-west",
            )
        )
        self._trigger(now, service, title, title, None)

    def _open_at_end(self, now, service: int) -> None:
        self._trigger(now, service, "Invoice export job failing", "Invoice export job failing", None)

    def _trigger_from_deploy(self, now, service: int, repo: str, sha: str) -> None:
        rng = self.rng
        name = self.services[service].name
        short = sha[:7]
        style = rng.random()
        if style < 0.4:
            title = f"[{name}] Error rate above 5% after deploy {short}"
            description = f"{title}. Deployed commit {short} of {repo}."
            note = None
        elif style < 0.7:
            title = f"[{name}] Elevated 5xx responses"
            description = f"Alert from monitoring. Suspect deploy {short}."
            note = None
        else:
            title = f"[{name}] p99 latency above SLO"
            description = title
            note = f"Likely caused by deploy {short} of {repo}; rolling back."
        self._trigger(now, service, title, description, note)

    def _trigger(self, now, service: int, title: str, description: str, note: str | None) -> None:
        rng = self.rng
        incident = Incident(
            id=self._id("Q", 14),
            number=len(self.incidents) + 1,
            title=title,
            description=description,
            service=service,
            created_at=int(now),
            urgency="high" if rng.random() < 0.7 else "low",
            priority=rng.choice(("P1", "P2", "P3")),
            incident_key=f"{rng.getrandbits(128):032x}",
            updated_at=int(now),
            last_status_change_at=int(now),
            last_status_change_by=("service", service),
        )
        self.incidents.append(incident)
        self.by_id[incident.id] = incident
        self.last_incident[self.services[service].id] = incident.created_at
        self.org.changes.add("pagerduty__incidents", incident.id)
        self._entry(
            now,
            incident,
            "trigger_log_entry",
            ("service", service),
            {"type": "api"},
            "Triggered through the API",
        )
        ack = now + rng.uniform(10, 20) * MINUTE
        resolve = ack + rng.uniform(5, 300) * MINUTE
        responder = self.team_picks.responder(self._team(service), rng.randrange(len(self.org.users)))
        self.loop.at(ack, self._acknowledge, incident, responder)
        if note:
            self.loop.at(ack + rng.uniform(1, 5) * MINUTE, self._annotate, incident, responder, note)
        self.loop.at(resolve, self._resolve, incident, responder)

    def _team(self, service: int) -> int:
        """A service of a repository is its team's; the service without one (legacy-billing) is the first's."""
        return team_of_repository(service) if service < self.org.config.services else 0

    def _entry(
        self,
        now,
        incident: Incident,
        kind: str,
        agent: tuple,
        channel: dict,
        summary: str,
        note: str | None = None,
    ) -> None:
        entry = LogEntry(self._id("R", 14), kind, int(now), agent, channel, summary, note)
        incident.log_entries.append(entry)
        self.log_entries.append(entry)
        self.entry_incident[entry.id] = incident
        incident.updated_at = int(now)
        self.org.changes.add("pagerduty__incident_log_entries", entry.id)
        if kind != "trigger_log_entry":
            self.org.changes.update("pagerduty__incidents", incident.id)

    def _acknowledge(self, now, incident: Incident, responder: int) -> None:
        if incident.status != "triggered":
            return
        incident.status = "acknowledged"
        incident.acknowledged_by = responder
        incident.acknowledged_at = int(now)
        incident.last_status_change_at = int(now)
        incident.last_status_change_by = ("user", responder)
        name = self.org.users[responder].name
        self._entry(
            now,
            incident,
            "acknowledge_log_entry",
            ("user", responder),
            {"type": "website"},
            f"Acknowledged by {name}.",
        )

    def _annotate(self, now, incident: Incident, responder: int, note: str) -> None:
        self._entry(
            now,
            incident,
            "annotate_log_entry",
            ("user", responder),
            {"type": "note", "summary": note},
            "Note added",
            note,
        )

    def _resolve(self, now, incident: Incident, responder: int) -> None:
        incident.status = "resolved"
        incident.resolved_at = int(now)
        incident.last_status_change_at = int(now)
        if self.rng.random() < 0.8:
            incident.last_status_change_by = ("user", responder)
            name = self.org.users[responder].name
            self._entry(
                now,
                incident,
                "resolve_log_entry",
                ("user", responder),
                {"type": "website"},
                f"Resolved by {name}.",
            )
        else:
            incident.last_status_change_by = ("service", incident.service)
            self._entry(
                now,
                incident,
                "resolve_log_entry",
                ("service", incident.service),
                {"type": "api"},
                "Resolved through the API.",
            )

    def run_until(self, clock: float) -> None:
        self.loop.run_until(clock)
