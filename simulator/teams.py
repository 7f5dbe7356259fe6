"""Teams of the synthetic organisation: who belongs where, who answers an incident and who reviews a pull request.

Teams own repositories (and the PagerDuty services of the same names) two by two, the demo catalog's rule
(doraflow demo: `team_of_repository`); people belong to teams in turn (`team_of_person`). The draws here come from
their own random streams, so the rest of the organisation (commits, deployments, incidents) is the same with or
without them.
"""

from __future__ import annotations

import random

TEAMS = ("commerce", "discovery", "platform")
# The service's own team acknowledges and resolves most incidents; the others go to whoever the first draw picked
# (a central on-call rota): about a third of the incidents are handled outside the owning team.
OWN_TEAM_RESPONSE_SHARE = 0.7
# Reviews: the first team of each repository reviews almost only inside the author's team (a silo); the others
# ask someone of the author's team about half the time and anyone otherwise.
OWN_TEAM_REVIEW_SHARE = (0.97, 0.5, 0.5)


def team_of_repository(index: int) -> int:
    """The owning team of repository `index` (and of the PagerDuty service of that index)."""
    return index // 2 % len(TEAMS)


def team_of_person(index: int) -> int:
    return index % len(TEAMS)


class TeamPicks:
    """Remaps a person drawn by the main stream to one of a team, with its own random stream."""

    def __init__(self, seed: str, people: int) -> None:
        self.rng = random.Random(seed)
        self.members = [[i for i in range(people) if team_of_person(i) == team] for team in range(len(TEAMS))]

    def responder(self, service_team: int, drawn: int) -> int:
        if self.rng.random() < OWN_TEAM_RESPONSE_SHARE:
            return self.rng.choice(self.members[service_team])
        return drawn

    def reviewer(self, repository_team: int, author: int, drawn: int) -> int:
        if self.rng.random() < OWN_TEAM_REVIEW_SHARE[repository_team]:
            colleagues = [i for i in self.members[team_of_person(author)] if i != author]
            if colleagues:
                return self.rng.choice(colleagues)
        return drawn
