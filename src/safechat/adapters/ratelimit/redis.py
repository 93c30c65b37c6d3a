"""Token buckets shared by every node through Redis.

The script is services.ratelimit.take in Lua: one round trip per check, atomic
across nodes. Times are epoch seconds of the Clock's wall time (nodes keep NTP time).
"""

from __future__ import annotations

import math

from safechat.adapters.ratelimit.memory import MemoryRateLimiter
from safechat.adapters.redis_link import RedisLink, script
from safechat.services.ports import Clock, Limit

# KEYS: bucket. ARGV: rate, burst, now, cost, ttl_ms. Returns seconds to wait, as a string.
_TAKE = """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local now, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens, updated = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, updated = burst, now end
local elapsed = math.max(0, now - updated)
tokens = math.min(burst, tokens + elapsed * rate)
local wait = 0
if tokens >= cost then tokens = tokens - cost else wait = (cost - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return tostring(wait)
"""


class RedisRateLimiter:
    def __init__(self, link: RedisLink, clock: Clock) -> None:
        self._link = link
        self._clock = clock
        self._take = script(link, _TAKE)
        # While Redis is away, limits hold per node rather than not at all.
        self._local = MemoryRateLimiter(clock)

    async def acquire(self, key: str, limit: Limit) -> float:
        refill_ms = math.ceil(limit.burst / limit.rate * 1000) + 1000

        async def op() -> float:
            now = self._clock.now().timestamp()  # shared buckets: wall time, as every node
            args = [repr(limit.rate), str(limit.burst), repr(now), "1", str(refill_ms)]
            return float(await self._take(keys=[self._link.key("rate", key)], args=args))

        return await self._link.run(op, lambda: self._local.acquire(key, limit))
