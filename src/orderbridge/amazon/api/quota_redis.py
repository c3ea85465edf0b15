"""The quota limiter for a distributed installation: the same token buckets as `quotas.py`, in Redis.

Every worker on every machine spends from one bucket per (selling partner, region, operation). Each
change is one Lua script, which Redis runs atomically, so two workers never both take the last token.
The time comes from the caller's clock, not Redis's: a sandbox account lives on the sandbox's virtual
clock, and Amazon refills on its own clock, which ours must follow. A rate-limit library (e.g. `limits`)
would meter on Redis's clock and cannot adopt the rate Amazon reports (`x-amzn-RateLimit-Limit`) or be
emptied on a 429, which is why this is a short script rather than a dependency.

Interface and behaviour match `QuotaLimiter` (see `Quotas`): `acquire()` never sleeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import redis

from orderbridge.amazon.api.quotas import PLANS, BucketState, Plan, parse_rate
from orderbridge.clock import Clock

# KEYS[1] bucket hash; ARGV: now (s), plan rate, plan burst, action, learned rate.
_SCRIPT = """
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local action = ARGV[4]
local b = redis.call('HMGET', KEYS[1], 'tokens', 'stamp', 'rate', 'burst')
local tokens = burst
local stamp = now
if b[1] then
  tokens = tonumber(b[1]); stamp = tonumber(b[2]); rate = tonumber(b[3]); burst = tonumber(b[4])
end
local elapsed = now - stamp
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
if now > stamp then stamp = now end
local wait = 0
if action == 'acquire' then
  if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
elseif action == 'drain' then
  tokens = 0
elseif action == 'learn' then
  rate = tonumber(ARGV[5])
end
local function f(x) return string.format('%.17g', x) end
if action ~= 'state' then
  redis.call('HSET', KEYS[1], 'tokens', f(tokens), 'stamp', f(stamp), 'rate', f(rate), 'burst', f(burst))
end
return {f(wait), f(tokens), f(rate), f(burst)}
"""


def bucket_key(selling_partner_id: str, region: str, operation: str, *, prefix: str = "orderbridge") -> str:
    return f"{prefix}:quota:{selling_partner_id}:{region}:{operation}"


class RedisQuotaLimiter:
    """Buckets in Redis, shared by every worker of the installation. Never sleeps."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        clock: Clock,
        plans: Mapping[str, Plan] = PLANS,
        margin: float = 0.05,
        prefix: str = "orderbridge",
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._clock = clock
        self._plans = plans
        # A little more than the store's limiter: workers' clocks may differ by a few milliseconds.
        self._margin = margin
        self._script = client.register_script(_SCRIPT)
        self._rates: dict[tuple[str, str, str], float] = {}

    def plan(self, operation: str) -> Plan:
        try:
            return self._plans[operation]
        except KeyError:
            raise ValueError(f"no usage plan for SP-API operation {operation!r}") from None

    def _run(
        self, selling_partner_id: str, region: str, operation: str, action: str, learned: float = 0.0
    ) -> tuple[float, BucketState]:
        plan = self.plan(operation)
        now = self._clock().timestamp()
        answer = cast(
            "list[Any]",
            self._script(
                keys=[bucket_key(selling_partner_id, region, operation, prefix=self._prefix)],
                args=[repr(now), repr(plan.rate), plan.burst, action, repr(learned)],
            ),
        )
        wait, tokens, rate, burst = (float(part) for part in answer)
        return wait, BucketState(tokens, rate, int(burst))

    def acquire(self, selling_partner_id: str, region: str, operation: str) -> float:
        """Take one token and return 0.0, or take none and return the seconds until one is due."""
        wait, _ = self._run(selling_partner_id, region, operation, "acquire")
        return wait + self._margin if wait > 0 else 0.0

    def learn(self, selling_partner_id: str, region: str, operation: str, header: str | None) -> None:
        """Adopt the rate Amazon reports in `x-amzn-RateLimit-Limit` (dynamic usage plans)."""
        rate, key = parse_rate(header), (selling_partner_id, region, operation)
        if rate is None or self._rates.get(key) == rate:
            return
        self._run(selling_partner_id, region, operation, "learn", rate)
        self._rates[key] = rate

    def drain(self, selling_partner_id: str, region: str, operation: str) -> None:
        """Amazon answered 429: its bucket is empty, so ours is too from now on."""
        self._run(selling_partner_id, region, operation, "drain")

    def state(self, selling_partner_id: str, region: str, operation: str) -> BucketState:
        """The bucket as of now (refilled, not written back)."""
        return self._run(selling_partner_id, region, operation, "state")[1]


@dataclass(frozen=True)
class StoredBucket:
    """A bucket as last written: tokens counted at `stamp` (epoch seconds of the account's clock)."""

    tokens: float
    rate: float
    burst: int
    stamp: float


def all_buckets(
    client: redis.Redis, *, prefix: str = "orderbridge"
) -> dict[tuple[str, str, str], StoredBucket]:
    """Every bucket as last written (metrics refill them to now)."""
    found: dict[tuple[str, str, str], StoredBucket] = {}
    for raw in client.scan_iter(match=f"{prefix}:quota:*", count=500):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        parts = key.removeprefix(f"{prefix}:").split(":")
        if len(parts) != 4:
            continue
        values = cast("list[Any]", client.hmget(key, "tokens", "rate", "burst", "stamp"))
        if None in values:
            continue
        tokens, rate, burst, stamp = (float(v) for v in values)
        found[(parts[1], parts[2], parts[3])] = StoredBucket(tokens, rate, int(burst), stamp)
    return found
