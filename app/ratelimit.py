"""Write rate limits: a token bucket per API key, kept in the server process (issue 8).

A key may make `write_rate_per_minute` writes a minute, in bursts of up to as many: its
bucket holds that many tokens and refills steadily. A write over the limit is answered
429 with Retry-After, before any database work. Every answer to a write that reached
its key's bucket (the 429s, the writes done and the writes refused after it: a 409, a
412, a 422...) carries the headers of the IETF draft "RateLimit header fields for
HTTP" (draft-ietf-httpapi-ratelimit-headers): RateLimit-Limit (the bucket's size),
RateLimit-Remaining (writes allowed now) and RateLimit-Reset (seconds until the bucket
is full again).

The buckets live in one process: behind N worker processes a key may write up to N times
the limit. That is enough to stop a runaway script; a limit shared between processes
would need a shared store (the database, or Redis). Reads are never limited.
"""

import math
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from fastapi import Request

from app.errors import AUTHORIZATION_FIELD, ApiError, FieldError, keep_for_the_answer

# Buckets idle long enough to be full again are dropped once there are this many.
_PRUNE_ABOVE = 10_000


@dataclass(frozen=True)
class Decision:
    """Whether one write may go ahead, and what the RateLimit headers say."""

    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    retry_after_s: int = 0

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Token buckets of `per_minute` tokens, one per key; safe to share between threads."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("a rate limit allows at least one write a minute")
        self.limit = per_minute
        self.rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._buckets: dict[Hashable, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key: Hashable) -> Decision:
        """Spend one token of `key`'s bucket if it has one."""
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= _PRUNE_ABOVE:
                    self._prune(now)
                bucket = self._buckets[key] = _Bucket(float(self.limit), now)
            bucket.tokens = min(self.limit, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            allowed = bucket.tokens >= 1
            if allowed:
                bucket.tokens -= 1
            tokens = bucket.tokens
        reset_s = math.ceil((self.limit - tokens) / self.rate)
        if allowed:
            return Decision(True, self.limit, math.floor(tokens), reset_s)
        retry_after_s = max(1, math.ceil((1 - tokens) / self.rate))
        return Decision(False, self.limit, 0, reset_s, retry_after_s)

    def _prune(self, now: float) -> None:
        full_after = self.limit / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.updated >= full_after]:
            del self._buckets[key]


def limit_writes(request: Request, key: Hashable) -> None:
    """Spend one write of `key` (an API key's id): 429 over the limit. The headers are
    kept on the request for the write's answer, refused or not."""
    limiter: RateLimiter = request.app.state.write_limiter
    decision = limiter.take(key)
    headers = decision.headers()
    if not decision.allowed:
        detail = (
            f"Too many writes with this API key: at most {decision.limit} a minute. "
            f"Retry after {decision.retry_after_s} s."
        )
        raise ApiError(
            429,
            detail,
            errors=[FieldError(field=AUTHORIZATION_FIELD, message=detail, type="rate_limited")],
            headers={**headers, "Retry-After": str(decision.retry_after_s)},
        )
    keep_for_the_answer(request, headers)
