"""Accounts and wallets of a simulated exchange (``terminal5.testing.fake_exchange``): the keys of each
account, the free and locked amounts per asset, and the generic state of an order on the book."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from terminal5 import jsonutil


@attrs.define
class Account:
    """One account of the simulated exchange: its keys, exchange-specific extras (a passphrase…) and
    opening balances (``None``: the simulator's defaults)."""

    api_key: str
    api_secret: str
    extra: dict[str, str] = attrs.field(factory=dict)
    balances: dict[str, Decimal] | None = None


def accounts_from(items: Iterable[Account] | Mapping[str, str] | None) -> list[Account]:
    if items is None:
        return []
    if isinstance(items, Mapping):
        return [Account(api_key=k, api_secret=v) for k, v in items.items()]
    return list(items)


def load_accounts(path: str | Path) -> list[Account]:
    """Accounts from a JSON file: a list (or ``{"accounts": [...]}``) of objects with ``api_key``,
    ``api_secret`` and optionally ``extra`` (an object of strings) and ``balances`` (asset -> amount string).
    """
    data = jsonutil.loads(Path(path).read_text())
    items = data.get("accounts", []) if isinstance(data, dict) else data
    accounts = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not item.get("api_key") or not item.get("api_secret"):
            raise ValueError(f"{path}: account #{i} needs api_key and api_secret")
        balances = item.get("balances")
        accounts.append(
            Account(
                api_key=str(item["api_key"]),
                api_secret=str(item["api_secret"]),
                extra={str(k): str(v) for k, v in (item.get("extra") or {}).items()},
                balances={str(a): Decimal(str(v)) for a, v in balances.items()} if balances else None,
            )
        )
    return accounts


@attrs.define
class Wallet:
    """Free and locked amounts per asset. Orders reserve (free -> locked), fills move, cancels release."""

    free: dict[str, Decimal] = attrs.field(factory=dict)
    locked: dict[str, Decimal] = attrs.field(factory=dict)

    def available(self, asset: str) -> Decimal:
        return self.free.get(asset, Decimal(0))

    def reserve(self, asset: str, amount: Decimal) -> bool:
        if amount > self.available(asset):
            return False
        self.free[asset] = self.available(asset) - amount
        self.locked[asset] = self.locked.get(asset, Decimal(0)) + amount
        return True

    def release(self, asset: str, amount: Decimal) -> None:
        amount = min(amount, self.locked.get(asset, Decimal(0)))
        self.locked[asset] = self.locked.get(asset, Decimal(0)) - amount
        self.free[asset] = self.available(asset) + amount

    def spend_locked(self, asset: str, amount: Decimal) -> None:
        self.locked[asset] = self.locked.get(asset, Decimal(0)) - amount

    def credit(self, asset: str, amount: Decimal) -> None:
        self.free[asset] = self.available(asset) + amount

    def assets(self) -> list[str]:
        return sorted(set(self.free) | set(self.locked))

    def hold_for(self, resting: Resting, *, base: str, quote: str, price: Decimal) -> bool:
        """Lock what ``resting`` may spend: a buy its quote at ``price``, a sell its base. False: cannot pay."""
        if resting.side == "buy":
            amount, asset = resting.quantity * price, quote
            resting.reserve_price = price
        else:
            amount, asset = resting.quantity, base
        if not self.reserve(asset, amount):
            return False
        resting.reserved_asset, resting.reserved = asset, amount
        return True

    def settle(self, resting: Resting, quantity: Decimal, price: Decimal, *, base: str, quote: str,
               fee: Decimal = Decimal(0)) -> None:
        """A fill of ``quantity`` at ``price`` (``fee`` in the quote asset): the held side is spent, the
        other credited, a buy's unused reservation (it held at its limit price) comes back."""
        if resting.side == "buy":
            locked = quantity * (resting.reserve_price or price)
            self.spend_locked(quote, min(locked, resting.reserved))
            resting.reserved -= min(locked, resting.reserved)
            self.credit(quote, locked - quantity * price - fee)
            self.credit(base, quantity)
        else:
            self.spend_locked(base, min(quantity, resting.reserved))
            resting.reserved -= min(quantity, resting.reserved)
            self.credit(quote, quantity * price - fee)
        resting.filled += quantity
        if resting.filled >= resting.quantity:
            resting.is_open = False

    def release_for(self, resting: Resting) -> None:
        """The order left the book: what it still holds comes back."""
        if resting.reserved_asset and resting.reserved:
            self.release(resting.reserved_asset, resting.reserved)
        resting.reserved = Decimal(0)
        resting.is_open = False


@attrs.define
class Resting:
    """The generic state of one order the simulator accepted; its native payload lives beside it."""

    order_id: Any
    api_key: str
    client_id: str | None
    symbol: str
    side: str  # "buy" | "sell"
    quantity: Decimal
    price: Decimal | None
    reserved_asset: str | None = None
    reserve_price: Decimal | None = None  # the price a buy reserved its quote at
    reserved: Decimal = Decimal(0)
    filled: Decimal = Decimal(0)
    is_open: bool = True

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled
