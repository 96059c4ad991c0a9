"""A token bucket, as Falco's ``token_bucket``: ``rate`` tokens per second up to ``max_tokens``.

Used for ``outputs.rate``/``outputs.max_burst`` (alert rate limiting) and for
``syscall_event_drops.rate``/``max_burst``. Time is passed in (ns) so that a replay is
rate-limited by event time, exactly as Falco's drop manager claims with the event timestamp,
and so tests are deterministic.
"""
from __future__ import annotations

import time


class TokenBucket:
    __slots__ = ("last_seen", "max_tokens", "rate", "tokens")

    def __init__(self, rate: float, max_tokens: float, now_ns: int | None = None):
        self.rate = float(rate)
        self.max_tokens = float(max_tokens)
        self.tokens = float(max_tokens)
        self.last_seen = time.time_ns() if now_ns is None else now_ns

    def claim(self, tokens: float = 1.0, now_ns: int | None = None) -> bool:
        """Take ``tokens`` if available; refill by elapsed time first (never above max)."""
        now = time.time_ns() if now_ns is None else now_ns
        gained = self.rate * max(0, now - self.last_seen) / 1e9
        self.last_seen = now
        self.tokens = min(self.max_tokens, self.tokens + gained)
        if self.tokens < tokens:
            return False
        self.tokens -= tokens
        return True
