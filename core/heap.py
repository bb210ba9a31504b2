"""Handing freed heap memory back to the operating system after a large, short-lived allocation.

Parsing an exchange's market list (Binance spot: a 3 MB document, ~140,000 objects) and writing its cache
leave megabytes of freed but fragmented C heap that glibc keeps mapped; ``malloc_trim`` returns its free
pages (~7 MB of RSS after a cold Binance load, in under a millisecond). Elsewhere (no glibc) a no-op."""

from __future__ import annotations

from collections.abc import Callable

_trim: Callable[[int], int] | None = None
_looked_up = False


def release() -> None:
    """``malloc_trim(0)`` where the C library has it; never raises."""
    global _trim, _looked_up
    if not _looked_up:
        _looked_up = True
        try:
            import ctypes

            _trim = ctypes.CDLL(None).malloc_trim
        except (ImportError, OSError, AttributeError):
            _trim = None
    if _trim is not None:
        _trim(0)
