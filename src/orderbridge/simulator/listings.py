"""Listings Items (placeholder)."""

from __future__ import annotations

from orderbridge.simulator.routing import Route


def routes() -> list[Route]:
    return []
