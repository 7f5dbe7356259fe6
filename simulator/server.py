"""`Simulator`: the organisation plus three local HTTP servers (GitHub, Jira, PagerDuty)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from simulator.clock import DAY
from simulator.config import (
    GITHUB_TOKEN,
    JIRA_API_TOKEN,
    JIRA_EMAIL,
    PAGERDUTY_TOKEN,
    Faults,
    SimulatorConfig,
)
from simulator.github_api import GitHubApp
from simulator.http import ApiServer
from simulator.jira_api import JiraApp
from simulator.model import Organisation
from simulator.pagerduty_api import PagerDutyApp

APIS = ("github", "jira", "pagerduty")


class Simulator:
    """Deterministic synthetic GitHub + Jira + PagerDuty. Same seed and config give the same data."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.faults = self.config.faults
        self.org = Organisation(self.config)
        self.apps = {"github": GitHubApp(self), "jira": JiraApp(self), "pagerduty": PagerDutyApp(self)}
        self._servers: dict[str, ApiServer] = {}
        self._threads: list[threading.Thread] = []

    # ----- lifecycle
    def start(self) -> Simulator:
        if self._servers:
            return self
        for api in APIS:
            port = int(self.config.ports.get(api, 0))
            try:
                server = ApiServer((self.config.host, port), self.apps[api])
            except OSError as error:
                self.stop()
                raise OSError(
                    f"simulator: cannot listen on {self.config.host}:{port} for {api} ({error})"
                ) from None
            thread = threading.Thread(target=server.serve_forever, name=f"simulator-{api}", daemon=True)
            thread.start()
            self._servers[api] = server
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ----- addresses and settings
    @property
    def urls(self) -> dict[str, str]:
        if not self._servers:
            raise RuntimeError(
                "Simulator is not running: call start() (or use it as a context manager) first"
            )
        return {
            api: f"http://{s.server_address[0]}:{s.server_address[1]}" for api, s in self._servers.items()
        }

    def env(self) -> dict[str, str]:
        urls = self.urls
        start = datetime.fromtimestamp(self.org.first_object_at - DAY, UTC).date()
        return {
            "GITHUB_API_URL": urls["github"],
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "GITHUB_REPOS": ",".join(repo.full_name for repo in self.org.github.repos),
            "JIRA_BASE_URL": urls["jira"],
            "JIRA_EMAIL": JIRA_EMAIL,
            "JIRA_API_TOKEN": JIRA_API_TOKEN,
            "JIRA_PROJECTS": ",".join(p["key"] for p in self.org.jira.projects),
            "PAGERDUTY_API_URL": urls["pagerduty"],
            "PAGERDUTY_TOKEN": PAGERDUTY_TOKEN,
            "EXTRACT_START_DATE": start.isoformat(),
        }

    def config_empty_repo(self, owner: str, name: str) -> bool:
        return self.config.empty_repository and owner.lower() == self.config.owner and name.lower() == "empty"

    # ----- ground truth and time
    @property
    def now(self) -> datetime:
        """The organisation's clock: `end_at`, moved forward by `advance`."""
        return datetime.fromtimestamp(self.org.clock, UTC)

    def truth(self) -> dict[str, int]:
        return self.org.truth()

    def truth_keys(self, table: str) -> set:
        return self.org.truth_keys(table)

    def advance(self, hours: float = 24) -> dict[str, dict[str, int]]:
        if hours <= 0:
            raise ValueError(f"advance(hours=...) must be positive, got {hours}")
        return self.org.advance(hours)

    # ----- faults and counters
    def set_faults(self, faults: Faults | None = None) -> None:
        self.faults = faults or Faults()
        for app in self.apps.values():
            app.set_faults(self.faults)

    def request_counts(self) -> dict[str, int]:
        return {api: self.apps[api].requests for api in APIS}

    def reset_request_counts(self) -> None:
        for app in self.apps.values():
            with app.count_lock:
                app.requests = 0


def serve_forever(config: SimulatorConfig, print_fn: Callable[[str], None] = print) -> None:
    """Start the simulator, print its URLs and `export` lines, serve until Ctrl-C, then stop cleanly."""
    sim = Simulator(config)
    sim.start()
    try:
        for api, url in sim.urls.items():
            print_fn(f"{api:<10} {url}")
        print_fn("# point doraflow at the simulator:")
        for name, value in sim.env().items():
            print_fn(f"export {name}={value}")
        print_fn("# serving; press Ctrl-C to stop")
        threading.Event().wait()
    except KeyboardInterrupt:
        print_fn("stopping the simulator")
    finally:
        sim.stop()
