"""Feeds API 2021-06-30 (placeholder)."""

from __future__ import annotations

from orderbridge.simulator.routing import Route


class FeedStore:
    pass


def routes() -> list[Route]:
    return []
