"""Faults on demand: 5xx rates, latency, connection resets, page and document damage, late orders."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from orderbridge.simulator.errors import SandboxError, quota_exceeded


class ConnectionResetFault(ConnectionResetError):
    """Raised from the ASGI app after a partial response: the client sees a dropped connection."""


@dataclass
class FaultPlan:
    """Which faults are on, as probabilities per request / page / document (0 = off, 1 = always)."""

    error_500_rate: float = 0.0
    error_503_rate: float = 0.0
    throttle_rate: float = 0.0  # 429s even with tokens left: "no application can avoid being throttled"
    latency_seconds: float = 0.0
    reset_rate: float = 0.0
    duplicate_page_rate: float = 0.0
    reorder_page_rate: float = 0.0
    expired_token_rate: float = 0.0
    corrupt_document_rate: float = 0.0
    truncate_document_rate: float = 0.0
    late_order_rate: float = 0.0
    late_order_delay_seconds: float = 600.0
    operations: list[str] = field(default_factory=list)  # empty = every Amazon operation


class Faults:
    """The current plan and a seeded random source, so a test with a seed sees the same faults."""

    def __init__(self, seed: int = 0) -> None:
        self.plan = FaultPlan()
        self.rng = random.Random(seed)

    def configure(self, settings: dict[str, Any]) -> FaultPlan:
        """Replace the plan; unknown keys are an error so that a typo does not silently do nothing."""
        known = {f.name for f in fields(FaultPlan)}
        unknown = set(settings) - known - {"seed"}
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        if "seed" in settings:
            self.rng.seed(settings["seed"])
        self.plan = FaultPlan(**{k: v for k, v in settings.items() if k in known})
        return self.plan

    def describe(self) -> dict[str, Any]:
        return asdict(self.plan)

    def applies(self, operation: str) -> bool:
        return not self.plan.operations or operation in self.plan.operations

    def hit(self, rate: float) -> bool:
        return rate > 0 and self.rng.random() < rate

    def before_handler(self, operation: str) -> tuple[float, bool]:
        """Latency to add and whether to reset; raises the 500 / 503 faults as Amazon's bodies."""
        if not self.applies(operation):
            return 0.0, False
        plan = self.plan
        if self.hit(plan.throttle_rate):
            raise quota_exceeded()
        if self.hit(plan.error_500_rate):
            raise SandboxError(500, "InternalFailure", "We encountered an internal error. Please try again.")
        if self.hit(plan.error_503_rate):
            raise SandboxError(
                503, "ServiceUnavailable", "Service temporarily unavailable. Please try again."
            )
        return plan.latency_seconds, self.hit(plan.reset_rate)

    def page_fault(self, operation: str) -> str:
        """'duplicate', 'reorder' or '' for the page about to be served."""
        if not self.applies(operation):
            return ""
        if self.hit(self.plan.duplicate_page_rate):
            return "duplicate"
        if self.hit(self.plan.reorder_page_rate):
            return "reorder"
        return ""

    def token_expired(self, operation: str) -> bool:
        return self.applies(operation) and self.hit(self.plan.expired_token_rate)

    def damage_document(self, data: bytes) -> bytes:
        """Corrupt (flip bytes) or truncate a downloaded report document."""
        if self.hit(self.plan.truncate_document_rate) and len(data) > 2:
            return data[: len(data) // 2]
        if self.hit(self.plan.corrupt_document_rate) and data:
            damaged = bytearray(data)
            for _ in range(max(1, len(damaged) // 100)):
                damaged[self.rng.randrange(len(damaged))] ^= 0x5A
            return bytes(damaged)
        return data

    def late_delay(self) -> float:
        """Seconds an order stays invisible after its lastUpdatedTime (late-arriving orders)."""
        return self.plan.late_order_delay_seconds if self.hit(self.plan.late_order_rate) else 0.0
