"""Property: a token bucket never lets through more than burst + rate x elapsed (SPAPI.md §3.3)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from orderbridge.simulator.app import create_app
from orderbridge.simulator.quotas import PLANS, Quotas


@settings(max_examples=200, deadline=None)
@given(
    operation=st.sampled_from(sorted(PLANS)),
    gaps=st.lists(st.floats(min_value=0, max_value=600, allow_nan=False), min_size=1, max_size=80),
)
def test_accepted_calls_never_exceed_burst_plus_refill(operation: str, gaps: list[float]) -> None:
    quotas = Quotas()
    rate, burst = quotas.plan(operation)
    now, accepted = 0.0, 0
    for gap in gaps:
        now += gap
        accepted += quotas.take("A1SELLER", operation, now)
    assert accepted <= burst + rate * now + 1e-9
    assert accepted >= min(len(gaps), burst)  # the burst is always there at the start


def test_every_served_amazon_operation_has_a_documented_plan() -> None:
    app = create_app()
    served = {r.operation for r in app.routes if not r.admin and r.operation != "lwa.token"}
    assert served <= set(PLANS), served - set(PLANS)
