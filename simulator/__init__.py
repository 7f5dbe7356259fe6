"""Local HTTP servers faithful to GitHub REST, Jira Cloud REST v3 and PagerDuty REST v2, serving a
deterministic synthetic organisation (standard library only). See docs/simulator.md."""

from simulator.config import Faults, SimulatorConfig
from simulator.github_model import monorepo_catalog_rows
from simulator.model import team_member_rows
from simulator.server import Simulator, serve_forever

__all__ = [
    "Faults",
    "Simulator",
    "SimulatorConfig",
    "monorepo_catalog_rows",
    "serve_forever",
    "team_member_rows",
]
