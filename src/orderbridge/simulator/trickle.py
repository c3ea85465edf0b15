"""Orders that keep coming while the sandbox runs: one at a time along the virtual clock.

Gaps between orders are exponential around `DAY / orders_per_day` (buyers arrive independently), and
each order is the generator's: same mix of FBA, Prime, gifts, cancellations, returns and their follow-ups.
Each order's random source is derived from the trickle's seed and how many it placed before, so a
world saved and loaded again carries on the same stream, and the world's own random source is untouched.
"""

from __future__ import annotations

import math
import random

from orderbridge.simulator.generator import DAY, DEFAULT_MIX, Sale, _place_one
from orderbridge.simulator.marketplaces import BY_ID
from orderbridge.simulator.world import Scheduled, Trickle, World

KIND = "gen_trickle"


def register(world: World) -> None:
    world.handlers[KIND] = _on_order


def start(world: World, trickle: Trickle) -> None:
    """Let `trickle` place orders in `world` from its `next_ts` (or from now: a new trickle, or a world
    whose clock moved on past it while it was stopped)."""
    register(world)
    world.trickle = trickle
    if trickle.orders_per_day <= 0:
        return
    due = trickle.next_ts if trickle.next_ts is not None else world.now + _gap(trickle)
    trickle.next_ts = max(due, world.now)
    world.schedule(trickle.next_ts, KIND, str(trickle.placed))


def _gap(trickle: Trickle) -> float:
    rng = random.Random(f"{trickle.seed}:gap:{trickle.placed}")
    return float(max(1, round(rng.expovariate(trickle.orders_per_day / DAY))))  # Amazon's whole seconds


def _on_order(world: World, event: Scheduled) -> None:
    trickle = world.trickle
    if trickle is None or event.key != str(trickle.placed):
        return  # a stale event (the trickle was replaced or already moved on)
    sellers = sorted(world.accounts.values(), key=lambda a: a.seller_id)
    buyers = sorted(world.buyers.values(), key=lambda b: b.buyer_id)
    rng = random.Random(f"{trickle.seed}:order:{trickle.placed}")
    if sellers and buyers:
        account = rng.choice(sellers)
        listings = [
            item for (seller, _), item in sorted(world.listings.items()) if seller == account.seller_id
        ]
        markets = [BY_ID[m] for m in account.marketplace_ids if m in BY_ID]
        if listings and markets:
            sale = Sale(account, listings, rng.choice(markets), rng.choice(buyers), world.now, math.inf)
            variety = random.Random(f"{trickle.seed}:variety:{trickle.placed}")
            _place_one(world, rng, {**DEFAULT_MIX, **trickle.mix}, sale, variety)
    trickle.placed += 1
    trickle.next_ts = world.now + _gap(trickle)
    world.schedule(trickle.next_ts, KIND, str(trickle.placed))
