"""Time-ordered ids (UUIDv7, RFC 9562): a millisecond timestamp, then randomness.

Ids that sort by creation time keep B-tree inserts at the right-hand edge of
the index; random UUID4 keys scatter them and make 10-million-row inserts
several times slower. Within one millisecond, a counter keeps ids from one
process strictly increasing (RFC 9562 §6.2, method 1).

>>> a, b = new_id(), new_id()
>>> a < b and len(a) == 36 and a[14] == "7"
True
"""

from __future__ import annotations

import _thread
import os
import time

__all__ = ["new_id"]

_lock = _thread.allocate_lock()
_last_ms = 0
_counter = 0


def new_id() -> str:
    """A new UUIDv7 string, greater than every id this process made before."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms > _last_ms:
            _last_ms = ms
            _counter = int.from_bytes(os.urandom(2), "big") & 0x7FF  # room to count up
        else:
            _counter += 1
            if _counter > 0xFFF:  # 4096 ids in one millisecond: borrow the next one
                _last_ms += 1
                _counter = 0
            ms = _last_ms
        rand_a = _counter
    rand_b = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (ms << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
