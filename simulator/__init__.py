"""Local HTTP servers faithful to GitHub REST, Jira Cloud REST v3 and PagerDuty REST v2, serving a
deterministic synthetic organisation (standard library only). See docs/simulator.md."""

from simulator.config import Faults, SimulatorConfig
from simulator.server import Simulator, serve_forever

__all__ = ["Faults", "Simulator", "SimulatorConfig", "serve_forever"]
