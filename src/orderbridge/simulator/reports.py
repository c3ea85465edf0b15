"""Reports API 2021-06-30 (placeholder until report formats land)."""

from __future__ import annotations

from orderbridge.simulator.routing import Route
from orderbridge.simulator.world import World


class ReportStore:
    def attach(self, world: World) -> None:
        self.world = world


def routes() -> list[Route]:
    return []
