"""Indexes for the simulators' order books, so a lookup costs the same after 10,000 orders as after ten.

A simulator keeps its orders in a ``Ledger`` (a dict that numbers every key it receives) and its indexes
in ``Postings`` (key -> ids, in the order they were added). The indexes only narrow a lookup down to a
few candidates; the simulator still checks each candidate against the order as it is now (owner, status,
client id), so an index that holds a stale id answers the same as a scan over every order would.

Orders a test puts in the ledger by hand are indexed too: ``Ledger.fresh()`` hands out the keys added
since the last call, and a simulator indexes them before it answers a lookup.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any


class Ledger(dict[Any, Any]):
    """An insertion-ordered dict that remembers each key's place and the keys added since ``fresh()``."""

    def __init__(self) -> None:
        super().__init__()
        self.position: dict[Any, int] = {}
        self._fresh: list[Any] = []
        self._count = itertools.count()

    def __setitem__(self, key: Any, value: Any) -> None:
        if key not in self.position:
            self.position[key] = next(self._count)
            self._fresh.append(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        self.position.pop(key, None)

    def pop(self, key: Any, *default: Any) -> Any:
        self.position.pop(key, None)
        return super().pop(key, *default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        super().clear()
        self.position.clear()

    def fresh(self) -> list[Any]:
        """The keys added since the last call, in insertion order (the ones still present)."""
        fresh, self._fresh = self._fresh, []
        return [k for k in fresh if k in self]

    def in_order(self, keys: Iterable[Any]) -> list[Any]:
        """``keys`` that are still present, once each, in the ledger's order."""
        present = {k for k in keys if k in self.position}
        return sorted(present, key=self.position.__getitem__)

    def first(self, keys: Iterable[Any], accept: Callable[[Any], bool]) -> Any | None:
        """The earliest key of ``keys`` (in the ledger's order) whose entry ``accept`` takes, else None."""
        return next((k for k in self.in_order(keys) if accept(k)), None)


class Postings:
    """Index key -> ids in the order they were added; a list only grows (readers re-check each id)."""

    def __init__(self) -> None:
        self.lists: dict[Hashable, list[Any]] = {}

    def add(self, key: Hashable, item: Any) -> None:
        self.lists.setdefault(key, []).append(item)

    def get(self, key: Hashable) -> list[Any]:
        return self.lists.get(key, [])

    def __iter__(self) -> Iterator[Hashable]:
        return iter(self.lists)
