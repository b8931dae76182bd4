"""Time-ordered ids shaped like UUIDv7: 48-bit millisecond prefix, then randomness.

Real clients generate ids this way, and it matters for the benchmark: a
time-ordered id lands at the right edge of the unique ``id`` index, while a
random one lands anywhere in it.

    >>> import random
    >>> a = uuid7(1_700_000_000_000, random.Random(1))
    >>> b = uuid7(1_700_000_000_001, random.Random(1))
    >>> len(a), a[14], a < b
    (36, '7', True)
"""

from __future__ import annotations

import random


def uuid7(ms: int, rng: random.Random) -> str:
    """A UUIDv7-style string for Unix time ``ms`` (milliseconds), random tail from ``rng``."""
    r = rng.getrandbits(74)
    return (
        f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{r >> 62:03x}-"
        f"{0x8000 | ((r >> 48) & 0x3FFF):04x}-{r & 0xFFFFFFFFFFFF:012x}"
    )


class IdClock:
    """Monotonic UUIDv7 ids for live appends: never repeats a millisecond twice."""

    def __init__(self, start_ms: int, seed: int = 7) -> None:
        self._ms = start_ms
        self._rng = random.Random(seed)

    def next(self) -> str:
        self._ms += 1
        return uuid7(self._ms, self._rng)
