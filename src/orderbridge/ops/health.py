"""Health checks: can this process reach the book, the quota Redis and the broker?

`/healthz` (liveness) answers without touching anything; `/readyz` (readiness) runs `check()`; the CLI's
`orderbridge health` prints the same checks and exits 1 when one fails, for systemd and compose.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import text

from orderbridge.ops.sources import Sources


@dataclass(frozen=True)
class Health:
    checks: dict[str, str] = field(default_factory=dict)  # name -> "ok" or what is wrong

    @property
    def ok(self) -> bool:
        return all(result == "ok" for result in self.checks.values())


def check(sources: Sources) -> Health:
    """Each configured service, reached once; the message names the service and the error kind."""
    found: dict[str, str] = {}
    try:
        with sources.sessions() as session:
            session.execute(text("SELECT 1"))
        found["database"] = "ok"
    except Exception as error:
        found["database"] = f"unreachable ({type(error).__name__})"
    if sources.redis is not None:
        try:
            sources.redis.ping()
            found["redis"] = "ok"
        except Exception as error:
            found["redis"] = f"unreachable ({type(error).__name__})"
    if sources.broker_url:
        from kombu.connection import Connection

        try:
            with Connection(sources.broker_url, connect_timeout=5) as connection:  # type: ignore[no-untyped-call]
                connection.ensure_connection(max_retries=1)
            found["broker"] = "ok"
        except Exception as error:
            found["broker"] = f"unreachable ({type(error).__name__})"
    return Health(found)
