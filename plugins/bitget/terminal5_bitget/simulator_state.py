"""The state behind the Bitget simulator, with no HTTP in it: markets, accounts, balances, a book that
rests and fills orders, positions, plan orders, and a record of what was placed/refused (with the business
parameters each placement carried).

Kept apart from ``simulator`` (the HTTP side, on the fake-exchange base of ``terminal5.testing``, which
also brings the fault knobs, the records route and the lifecycle). Payloads use Bitget's V2 field names (reference §5): spot orders carry ``status``, mix detail
answers ``state`` and mix lists ``status``; fees are a ``feeDetail`` JSON string (spot, ``newFees`` form)
or a signed ``fee`` (mix). Every amount is a Decimal, formatted as a string on the way out.

The book is fixed around each symbol's last price (bid/ask ``spread`` away): market orders fill at the
touch, crossing limits fill at once, IOC/FOK leftovers are cancelled, post-only orders that would take are
cancelled, the rest rest until ``fill`` (by hand) or a cancel. Resting orders lock their funds.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from decimal import ROUND_DOWN, Decimal
from typing import Any

import attrs

from terminal5 import jsonutil
from terminal5.decimals import plain
from terminal5.testing.fake_index import Ledger, Postings
from terminal5.testing.fake_wallets import Resting, Wallet

SPOT_FEE = Decimal("0.001")
SPOT_BALANCES = {"USDT": Decimal(10000), "BTC": Decimal(1), "ETH": Decimal(10), "USDC": Decimal(10000)}
MIX_FEE = Decimal("0.0006")
LEVERAGE = Decimal(20)
START_TIME = 1695806875837
QUOTES = ("USDT", "USDC", "BTC")


class SimError(Exception):
    """Bitget's refusal: the envelope code, its message and the HTTP status it comes with."""

    def __init__(self, code: str, msg: str, status: int = 400) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def s(value: Decimal) -> str:
    return plain(value)


# --- markets -------------------------------------------------------------------------------------------------


def spot_symbol(base: str, quote: str, *, price_places: int = 2, qty_places: int = 6, status: str = "online",
                min_usdt: str = "1") -> dict[str, Any]:
    return {
        "symbol": f"{base}{quote}", "baseCoin": base, "quoteCoin": quote, "minTradeAmount": "0",
        "maxTradeAmount": "10000000000", "takerFeeRate": "0.001", "makerFeeRate": "0.001",
        "pricePrecision": str(price_places), "quantityPrecision": str(qty_places), "quotePrecision": "6",
        "status": status, "minTradeUSDT": min_usdt, "buyLimitPriceRatio": "0.05", "sellLimitPriceRatio": "0.05",
        "areaSymbol": "no", "orderQuantity": "200",
    }


def contract(symbol: str, base: str, quote: str, margin: str, *, price_place: int = 1, end_step: int = 1,
             volume_place: int = 3, multiplier: str = "0.001", min_num: str = "0.001",
             min_usdt: str = "5", status: str = "normal") -> dict[str, Any]:
    return {
        "symbol": symbol, "baseCoin": base, "quoteCoin": quote, "buyLimitPriceRatio": "0.01",
        "sellLimitPriceRatio": "0.01", "feeRateUpRatio": "0.005", "makerFeeRate": "0.0002",
        "takerFeeRate": "0.0006", "openCostUpRatio": "0.01", "supportMarginCoins": [margin],
        "minTradeNum": min_num, "priceEndStep": str(end_step), "volumePlace": str(volume_place),
        "pricePlace": str(price_place), "sizeMultiplier": multiplier, "symbolType": "perpetual",
        "minTradeUSDT": min_usdt, "maxSymbolOrderNum": "999999", "maxProductOrderNum": "999999",
        "maxPositionNum": "150", "symbolStatus": status, "offTime": "-1", "limitOpenTime": "-1",
        "deliveryTime": "", "deliveryStartTime": "", "deliveryPeriod": "", "launchTime": "",
        "fundInterval": "8", "minLever": "1", "maxLever": "125", "posLimit": "0.05", "maintainTime": "",
        "maxMarketOrderQty": "220", "maxOrderQty": "1200",
    }


def generated_markets(n_spot: int = 1000, n_usdt: int = 200) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Realistic metadata in realistic size: the majors plus generated coins (``C0001``…)."""
    spot = [spot_symbol("BTC", "USDT"), spot_symbol("ETH", "USDT"), spot_symbol("ETH", "BTC", price_places=6,
                                                                                    qty_places=4),
            spot_symbol("BTC", "USDC"), spot_symbol("XRP", "USDT", price_places=4, qty_places=2, status="offline")]
    for i in itertools.count(1):
        if len(spot) >= n_spot:
            break
        spot.append(spot_symbol(f"C{i:04d}", QUOTES[i % len(QUOTES)], price_places=2 + i % 5, qty_places=i % 7))
    usdt = [contract("BTCUSDT", "BTC", "USDT", "USDT"), contract("ETHUSDT", "ETH", "USDT", "USDT", price_place=2)]
    for i in range(1, n_usdt - 1):
        usdt.append(contract(f"C{i:04d}USDT", f"C{i:04d}", "USDT", "USDT", price_place=2 + i % 3,
                             volume_place=i % 3, multiplier=str(Decimal(1).scaleb(-(i % 3))),
                             min_num=str(Decimal(1).scaleb(-(i % 3)))))
    usdc = [contract("BTCPERP", "BTC", "USDC", "USDC"), contract("ETHPERP", "ETH", "USDC", "USDC", price_place=2)]
    coin = [contract("BTCUSD", "BTC", "USD", "BTC", volume_place=3, min_usdt="5")]
    return spot, {"USDT-FUTURES": usdt, "USDC-FUTURES": usdc, "COIN-FUTURES": coin}


# --- accounts -------------------------------------------------------------------------------------------------


@attrs.define
class Account:
    key: str
    secret: str
    passphrase: str
    #: the spot wallet (the fake-exchange base's): ``free`` is Bitget's available, ``locked`` its frozen
    spot: Wallet = attrs.field(factory=Wallet)
    #: mix margin coin -> available
    margin: dict[str, Decimal] = attrs.field(factory=dict)
    pos_mode: str = "one_way_mode"
    margin_mode: str = "crossed"
    #: (native symbol, hold side) -> [size, average open price]; one-way keeps the net on "long"/"short"
    positions: dict[tuple[str, str], list[Decimal]] = attrs.field(factory=dict)
    orders: Ledger = attrs.field(factory=Ledger)  # orderId -> payload
    plans: Ledger = attrs.field(factory=Ledger)  # orderId -> payload
    fills: list[dict[str, Any]] = attrs.field(factory=list)
    #: clientOid -> ids of ``orders`` / ``plans`` that carry (or carried) it: see ``SimState.index``
    order_cids: Postings = attrs.field(factory=Postings, repr=False, eq=False)
    plan_cids: Postings = attrs.field(factory=Postings, repr=False, eq=False)

    @classmethod
    def new(cls, key: str, secret: str, passphrase: str, spot: Mapping[str, Decimal] | None = None) -> Account:
        return cls(
            key=key, secret=secret, passphrase=passphrase,
            spot=Wallet(free=dict(SPOT_BALANCES if spot is None else spot)),
            margin={"USDT": Decimal(10000), "USDC": Decimal(10000), "BTC": Decimal(1)},
        )


class SimState:
    """Everything the simulated Bitget knows. Not thread-safe: one event loop drives it."""

    def __init__(self, accounts: Iterable[tuple[str, str, str]] = (), *, n_spot: int = 1000, n_usdt: int = 200,
                 prices: Mapping[str, Decimal] | None = None, spread: Decimal = Decimal("10")) -> None:
        self.accounts = {key: Account.new(key, secret, pw) for key, secret, pw in accounts}
        self.spot_symbols, self.contracts = generated_markets(n_spot, n_usdt)
        self.spot_by_symbol = {m["symbol"]: m for m in self.spot_symbols}
        self.contract_by_symbol = {m["symbol"]: (pt, m) for pt, items in self.contracts.items() for m in items}
        self.prices: dict[str, Decimal] = {"BTCUSDT": Decimal(43000), "ETHUSDT": Decimal(2300),
                                           "ETHBTC": Decimal("0.053"), "BTCUSDC": Decimal(43000),
                                           "BTCPERP": Decimal(43000), "ETHPERP": Decimal(2300),
                                           "BTCUSD": Decimal(43000), **(prices or {})}
        self.spread = spread
        self.now_ms = START_TIME
        self._ids = itertools.count(1100000000000000001)
        self._trade_ids = itertools.count(5100000000000000001)
        #: orderId -> the generic state of a spot order (what it holds of the wallet, what is filled)
        self.book: dict[str, Resting] = {}
        #: (key, path, business params) of every order placement that reached the matching step
        self.placements: list[tuple[str, str, dict[str, Any]]] = []
        #: (path, code) of every refusal
        self.rejections: list[tuple[str, str]] = []
        #: (method, path, demo header present) of every request
        self.requests: list[tuple[str, str, bool]] = []
        self.modifications: list[dict[str, Any]] = []

    # --- helpers ------------------------------------------------------------------------------------------
    def add_account(self, key: str, secret: str, passphrase: str,
                    spot: Mapping[str, Decimal] | None = None) -> Account:
        self.accounts[key] = Account.new(key, secret, passphrase, spot)
        return self.accounts[key]

    def tick(self) -> int:
        self.now_ms += 1
        return self.now_ms

    def price(self, symbol: str) -> Decimal:
        return self.prices.get(symbol, Decimal(100))

    def touch(self, symbol: str, side: str) -> Decimal:
        return self.price(symbol) + self.spread if side == "buy" else self.price(symbol) - self.spread

    def placed(self, client_oid: str) -> list[dict[str, Any]]:
        return [p for _, _, p in self.placements if p.get("clientOid") == client_oid]

    @staticmethod
    def index(account: Account) -> None:
        """Index the account's orders and plans added since the last lookup (placed here or by a test)."""
        for order_id in account.orders.fresh():
            account.order_cids.add(account.orders[order_id].get("clientOid"), order_id)
        for plan_id in account.plans.fresh():
            account.plan_cids.add(account.plans[plan_id].get("clientOid"), plan_id)

    def by_client_oid(self, account: Account, client_oid: Any, *, plans: bool = False) -> dict[str, Any] | None:
        """The account's first order (or plan), in placement order, carrying ``client_oid`` now."""
        if not client_oid:
            return None
        self.index(account)
        book, cids = (account.plans, account.plan_cids) if plans else (account.orders, account.order_cids)
        found = book.first(cids.get(client_oid), lambda i: book[i].get("clientOid") == client_oid)
        return None if found is None else book[found]

    def _duplicate(self, account: Account, client_oid: str | None) -> bool:
        """Bitget refuses a clientOid any of the account's orders or plans ever carried, open or not."""
        if not client_oid:
            return False
        return (self.by_client_oid(account, client_oid) is not None
                or self.by_client_oid(account, client_oid, plans=True) is not None)

    def _new_id(self) -> str:
        return str(next(self._ids))

    @staticmethod
    def _dec(params: Mapping[str, Any], name: str, code: str = "40017") -> Decimal:
        value = params.get(name)
        if value in (None, ""):
            raise SimError("40019", f"Parameter {name} cannot be empty")
        try:
            return Decimal(str(value))
        except ArithmeticError:
            raise SimError(code, f"Parameter {name} error") from None

    @staticmethod
    def _places(value: Decimal) -> int:
        return max(0, -value.normalize().as_tuple().exponent)  # type: ignore[operator]

    # --- spot -----------------------------------------------------------------------------------------------
    def spot_place(self, account: Account, params: Mapping[str, Any], path: str) -> dict[str, str]:
        info = self.spot_by_symbol.get(str(params.get("symbol", "")).upper())
        if info is None:
            raise SimError("40034", "Parameter symbol does not exist")
        if info["status"] != "online":
            raise SimError("43011", "The symbol is not online")
        side, kind = params.get("side"), params.get("orderType")
        if side not in ("buy", "sell") or kind not in ("limit", "market"):
            raise SimError("40020", "Parameter side or orderType error")
        force = params.get("force")
        if force not in ("gtc", "post_only", "fok", "ioc"):
            raise SimError("40019", "Parameter force cannot be empty")
        size = self._dec(params, "size")
        if kind == "limit":
            price = self._dec(params, "price")
            if self._places(price) > int(info["pricePrecision"]):
                raise SimError("41103", "param price scale error error")
        if not (kind == "market" and side == "buy") and self._places(size) > int(info["quantityPrecision"]):
            raise SimError("40808", "Parameter verification exception size checkBDScale error value=" + s(size))
        if self._duplicate(account, params.get("clientOid")):
            raise SimError("43118", "clientOrderId duplicate")
        base, quote = info["baseCoin"], info["quoteCoin"]
        if side == "buy":
            need = size if kind == "market" else size * Decimal(str(params["price"]))
            if need > account.spot.available(quote):
                raise SimError("43012", "Insufficient balance")
        elif size > account.spot.available(base):
            raise SimError("43012", "Insufficient balance")
        self.placements.append((account.key, path, dict(params)))
        now = self.tick()
        order = {
            "userId": "1234567890", "symbol": info["symbol"], "orderId": self._new_id(),
            "clientOid": params.get("clientOid") or self._new_id(), "price": s(Decimal(str(params.get("price", "0")))),
            "size": s(size), "orderType": kind, "side": side, "status": "live", "priceAvg": "0", "baseVolume": "0",
            "quoteVolume": "0", "enterPointSource": "API", "feeDetail": "", "orderSource": "normal",
            "cancelReason": "", "cTime": str(now), "uTime": str(now),
            "_force": force,  # spot order answers do not show ``force`` (reference §5)
        }
        for name in ("presetTakeProfitPrice", "presetStopLossPrice"):
            if params.get(name):
                order[name] = str(params[name])
        account.orders[order["orderId"]] = order
        self._hold_spot(account, order, info)
        self._match_spot(account, order, info)
        return {"orderId": order["orderId"], "clientOid": order["clientOid"]}

    def _hold_spot(self, account: Account, order: dict[str, Any], info: Mapping[str, Any]) -> None:
        """Book the order and hold its funds: a limit buy its quote at the limit, a market buy the quote
        size it spends (the base it gets at the touch), a sell its base."""
        side, size = order["side"], Decimal(order["size"])
        if order["orderType"] == "market" and side == "buy":
            price = self.touch(order["symbol"], side)
            quantity = (size / price).quantize(Decimal(1).scaleb(-int(info["quantityPrecision"])), rounding=ROUND_DOWN)
        else:
            price = Decimal(order["price"]) if order["orderType"] == "limit" else self.touch(order["symbol"], side)
            quantity = size
        resting = Resting(order_id=order["orderId"], api_key=account.key, client_id=order["clientOid"],
                          symbol=order["symbol"], side=side, quantity=quantity,
                          price=Decimal(order["price"]) if order["orderType"] == "limit" else None)
        account.spot.hold_for(resting, base=info["baseCoin"], quote=info["quoteCoin"], price=price)
        self.book[order["orderId"]] = resting

    def _match_spot(self, account: Account, order: dict[str, Any], info: Mapping[str, Any]) -> None:
        side, touch = order["side"], self.touch(order["symbol"], order["side"])
        if order["orderType"] == "market":
            self.fill_spot(account, order["orderId"], self.book[order["orderId"]].quantity, touch, taker=True)
            return
        price = Decimal(order["price"])
        crosses = price >= touch if side == "buy" else price <= touch
        if crosses and order["_force"] == "post_only":
            self._cancel_spot(account, order, "post_only")
        elif crosses:
            self.fill_spot(account, order["orderId"], Decimal(order["size"]), touch, taker=True)
        elif order["_force"] in ("ioc", "fok"):
            self._cancel_spot(account, order, order["_force"])

    def fill_spot(self, account: Account, order_id: str, qty: Decimal, price: Decimal, *, taker: bool = False) -> None:
        """Fill ``qty`` (base) of a spot order at ``price``: balances move, a fill is recorded."""
        order = account.orders[order_id]
        info = self.spot_by_symbol[order["symbol"]]
        base, quote = info["baseCoin"], info["quoteCoin"]
        filled = Decimal(order["baseVolume"]) + qty
        spent = Decimal(order["quoteVolume"]) + qty * price
        buy = order["side"] == "buy"
        received = qty if buy else qty * price
        fee = received * SPOT_FEE  # in the coin received
        resting = self.book[order_id]
        # the held side is spent, the other credited, a buy's unused hold (taken at its limit) comes back
        account.spot.settle(resting, qty, price, base=base, quote=quote, fee=Decimal(0) if buy else fee)
        if buy:
            account.spot.credit(base, -fee)
        total_fee = Decimal(self._previous_fee(order)) - fee
        order.update(baseVolume=s(filled), quoteVolume=s(spent), priceAvg=s(spent / filled), uTime=str(self.tick()))
        order["feeDetail"] = jsonutil.dumps({"newFees": {"c": 0, "d": 0, "deduction": False, "r": total_fee,
                                                         "t": total_fee, "totalDeductionFee": 0}})
        size_done = order["orderType"] == "market" or filled >= Decimal(order["size"])
        order["status"] = "filled" if size_done else "partially_filled"
        if size_done:
            account.spot.release_for(resting)
        account.fills.append({
            "userId": "1234567890", "symbol": order["symbol"], "orderId": order_id, "tradeId": str(next(self._trade_ids)),
            "orderType": order["orderType"], "side": order["side"], "priceAvg": s(price), "size": s(qty),
            "amount": s(qty * price), "feeDetail": {"deduction": "no", "feeCoin": base if buy else quote,
                                                    "totalDeductionFee": "0", "totalFee": s(-fee)},
            "tradeScope": "taker" if taker else "maker", "cTime": order["uTime"], "uTime": order["uTime"],
        })

    @staticmethod
    def _previous_fee(order: Mapping[str, Any]) -> Decimal:
        if not order.get("feeDetail"):
            return Decimal(0)
        return Decimal(str(jsonutil.loads(order["feeDetail"])["newFees"]["t"]))

    def _cancel_spot(self, account: Account, order: dict[str, Any], reason: str = "") -> None:
        account.spot.release_for(self.book[order["orderId"]])
        order.update(status="cancelled", cancelReason=reason, uTime=str(self.tick()))

    def spot_find(self, account: Account, params: Mapping[str, Any]) -> dict[str, Any] | None:
        if params.get("orderId"):
            return account.orders.get(str(params["orderId"]))
        return self.by_client_oid(account, params.get("clientOid"))

    def spot_cancel(self, account: Account, params: Mapping[str, Any]) -> dict[str, str]:
        order = self.spot_find(account, params)
        if order is None or (params.get("symbol") and order["symbol"] != str(params["symbol"]).upper()):
            raise SimError("43001", "The order does not exist")
        if order["status"] not in ("live", "new", "partially_filled", "init"):
            raise SimError("43001", "The order does not exist")  # Bitget: no longer cancellable
        self._cancel_spot(account, order)
        return {"orderId": order["orderId"], "clientOid": order["clientOid"]}

    def spot_plan_place(self, account: Account, params: Mapping[str, Any], path: str) -> dict[str, str]:
        info = self.spot_by_symbol.get(str(params.get("symbol", "")).upper())
        if info is None:
            raise SimError("40034", "Parameter symbol does not exist")
        for name in ("triggerPrice", "size"):
            self._dec(params, name)
        if params.get("planType") not in ("amount", "total") or params.get("orderType") not in ("limit", "market"):
            raise SimError("40020", "Parameter planType or orderType error")
        if params.get("orderType") == "limit":
            self._dec(params, "executePrice")
        if self._duplicate(account, params.get("clientOid")):
            raise SimError("43118", "clientOrderId duplicate")
        self.placements.append((account.key, path, dict(params)))
        now = self.tick()
        plan = {
            "orderId": self._new_id(), "clientOid": params.get("clientOid") or self._new_id(),
            "symbol": info["symbol"], "triggerPrice": str(params["triggerPrice"]),
            "orderType": params["orderType"], "executePrice": str(params.get("executePrice", "0")),
            "size": str(params["size"]), "status": "live", "side": params["side"], "planType": params["planType"],
            "triggerType": params.get("triggerType", "fill_price"), "enterPointSource": "API",
            "cTime": str(now), "uTime": str(now),
        }
        account.plans[plan["orderId"]] = plan
        return {"orderId": plan["orderId"], "clientOid": plan["clientOid"]}

    def plan_cancel(self, account: Account, keys: Iterable[Mapping[str, Any]], *, mix: bool) -> list[dict[str, str]]:
        done = []
        for key in keys:
            plan = account.plans.get(str(key.get("orderId") or "")) or self.by_client_oid(
                account, key.get("clientOid"), plans=True)
            if plan is None or plan.get("planStatus", plan.get("status")) != "live":
                raise SimError("43025", "Plan order does not exist")
            plan["planStatus" if mix else "status"] = "cancelled"
            plan["uTime"] = str(self.tick())
            done.append({"orderId": plan["orderId"], "clientOid": plan["clientOid"]})
        return done

    # --- mix ------------------------------------------------------------------------------------------------
    def _contract(self, params: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        product = str(params.get("productType", "")).upper()
        if product not in self.contracts:
            raise SimError("40020", "Parameter productType error")
        found = self.contract_by_symbol.get(str(params.get("symbol", "")).upper())
        if found is None or found[0] != product:
            raise SimError("40034", "Parameter symbol does not exist")
        return found

    def _check_mix_size(self, info: Mapping[str, Any], size: Decimal) -> None:
        if self._places(size) > int(info["volumePlace"]) or size % Decimal(info["sizeMultiplier"]) != 0:
            raise SimError("40808", f"Parameter verification exception size checkBDScale error value={s(size)}")
        if size < Decimal(info["minTradeNum"]):
            raise SimError("45110", f"less than the minimum order quantity {info['minTradeNum']}")

    def _check_mix_price(self, info: Mapping[str, Any], price: Decimal) -> None:
        tick = Decimal(info["priceEndStep"]) * Decimal(1).scaleb(-int(info["pricePlace"]))
        if price % tick != 0:
            raise SimError("41103", "param price scale error error")

    def _mix_sides(self, account: Account, params: Mapping[str, Any]) -> tuple[str, bool]:
        """(hold side, closing) of a mix order, by the account's position mode."""
        side = params.get("side")
        if side not in ("buy", "sell"):
            raise SimError("40020", "Parameter side error")
        if account.pos_mode == "hedge_mode":
            trade_side = params.get("tradeSide")
            if trade_side not in ("open", "close"):
                raise SimError("40774", "The order type for unilateral position must also be the unilateral position type.")
            return ("long" if side == "buy" else "short"), trade_side == "close"
        reduce = str(params.get("reduceOnly", "NO")).upper() == "YES"
        return ("long" if side == "buy" else "short"), reduce

    def mix_place(self, account: Account, params: Mapping[str, Any], path: str) -> dict[str, str]:
        product, info = self._contract(params)
        if params.get("marginMode") not in ("isolated", "crossed"):
            raise SimError("40019", "Parameter marginMode cannot be empty")
        margin_coin = str(params.get("marginCoin", "")).upper()
        if margin_coin not in [m.upper() for m in info["supportMarginCoins"]]:
            raise SimError("40020", "Parameter marginCoin error")
        kind = params.get("orderType")
        if kind not in ("limit", "market"):
            raise SimError("40020", "Parameter orderType error")
        size = self._dec(params, "size")
        self._check_mix_size(info, size)
        price = None
        if kind == "limit":
            price = self._dec(params, "price")
            self._check_mix_price(info, price)
        hold, closing = self._mix_sides(account, params)
        if self._duplicate(account, params.get("clientOid")):
            raise SimError("40786", "Duplicate clientOid")
        symbol = info["symbol"]
        if closing:
            position = self._position_to_close(account, symbol, params)
            if position is None or position[0] < size:
                raise SimError("22002", "No position to close")
        else:
            value = size * (price or self.touch(symbol, str(params["side"])))
            if value / LEVERAGE > account.margin.get(margin_coin, Decimal(0)) * (
                    self.price(symbol) if product == "COIN-FUTURES" else 1):
                raise SimError("40762", "The order amount exceeds the balance")
        self.placements.append((account.key, path, dict(params)))
        now = self.tick()
        trade_side = params.get("tradeSide", "") if account.pos_mode == "hedge_mode" else (
            f"{params['side']}_single")
        order = {
            "symbol": symbol, "size": s(size), "orderId": self._new_id(),
            "clientOid": params.get("clientOid") or self._new_id(), "baseVolume": "0", "priceAvg": "",
            "fee": "0", "price": s(price) if price is not None else "", "state": "live", "side": params["side"],
            "force": params.get("force", "gtc"), "totalProfits": "0", "posSide": hold if account.pos_mode == "hedge_mode"
            else "net", "marginCoin": margin_coin, "presetStopSurplusPrice": params.get("presetStopSurplusPrice", ""),
            "presetStopLossPrice": params.get("presetStopLossPrice", ""), "quoteVolume": "0", "orderType": kind,
            "leverage": s(LEVERAGE), "marginMode": params["marginMode"],
            "reduceOnly": "YES" if str(params.get("reduceOnly", "NO")).upper() == "YES" else "NO",
            "enterPointSource": "API", "tradeSide": trade_side, "posMode": account.pos_mode,
            "orderSource": "normal", "cancelReason": "", "cTime": str(now), "uTime": str(now),
            "_product": product, "_closing": closing, "_hold": hold,
        }
        account.orders[order["orderId"]] = order
        self._match_mix(account, order)
        return {"orderId": order["orderId"], "clientOid": order["clientOid"]}

    def _position_to_close(self, account: Account, symbol: str, params: Mapping[str, Any]) -> list[Decimal] | None:
        if account.pos_mode == "hedge_mode":
            hold = "long" if params["side"] == "buy" else "short"  # hedge: side names the position
        else:
            hold = "short" if params["side"] == "buy" else "long"  # one-way: a buy reduces a short
        return account.positions.get((symbol, hold))

    def _match_mix(self, account: Account, order: dict[str, Any]) -> None:
        trade_side = "buy" if (order["side"] == "buy") is not (order["_closing"] and order["posMode"] == "hedge_mode") else "sell"
        touch = self.touch(order["symbol"], trade_side)
        if order["orderType"] == "market":
            self.fill_mix(account, order["orderId"], Decimal(order["size"]), touch)
            return
        price = Decimal(order["price"])
        crosses = price >= touch if trade_side == "buy" else price <= touch
        if crosses and order["force"] == "post_only":
            order.update(state="canceled", cancelReason="post_only")
        elif crosses:
            self.fill_mix(account, order["orderId"], Decimal(order["size"]), touch)
        elif order["force"] in ("ioc", "fok"):
            order.update(state="canceled", cancelReason=order["force"])

    def fill_mix(self, account: Account, order_id: str, qty: Decimal, price: Decimal) -> None:
        order = account.orders[order_id]
        filled = Decimal(order["baseVolume"]) + qty
        quote = Decimal(order["quoteVolume"]) + qty * price
        fee = qty * price * MIX_FEE
        coin = order["marginCoin"]
        account.margin[coin] = account.margin.get(coin, Decimal(0)) - fee
        key = (order["symbol"], order["_hold"])
        if order["posMode"] == "one_way_mode" and order["_closing"]:
            key = (order["symbol"], "short" if order["side"] == "buy" else "long")
        position = account.positions.setdefault(key, [Decimal(0), price])
        if order["_closing"]:
            position[0] -= qty
            if position[0] <= 0:
                del account.positions[key]
        else:
            position[1] = (position[0] * position[1] + qty * price) / (position[0] + qty)
            position[0] += qty
        order.update(baseVolume=s(filled), quoteVolume=s(quote), priceAvg=s(quote / filled),
                     fee=s(Decimal(order["fee"] or 0) - fee), uTime=str(self.tick()))
        order["state"] = "filled" if filled >= Decimal(order["size"]) else "partially_filled"
        account.fills.append({
            "tradeId": str(next(self._trade_ids)), "symbol": order["symbol"], "orderId": order_id, "price": s(price),
            "baseVolume": s(qty), "quoteVolume": s(qty * price), "side": order["side"], "profit": "0",
            "feeDetail": [{"deduction": "no", "feeCoin": coin, "totalDeductionFee": "0", "totalFee": s(-fee)}],
            "tradeSide": order["tradeSide"], "posMode": order["posMode"], "tradeScope": "taker",
            "cTime": order["uTime"], "_product": order["_product"],
        })

    def mix_find(self, account: Account, params: Mapping[str, Any]) -> dict[str, Any] | None:
        if params.get("orderId"):
            order = account.orders.get(str(params["orderId"]))
        else:
            order = self.by_client_oid(account, params.get("clientOid"))
        if order is None or "state" not in order:
            return None
        if params.get("symbol") and order["symbol"] != str(params["symbol"]).upper():
            return None
        return order

    def mix_cancel(self, account: Account, params: Mapping[str, Any]) -> dict[str, str]:
        self._contract(params)
        order = self.mix_find(account, params)
        if order is None or order["state"] not in ("live", "partially_filled"):
            raise SimError("40768", "Order does not exist")
        order.update(state="canceled", uTime=str(self.tick()))
        return {"orderId": order["orderId"], "clientOid": order["clientOid"]}

    def mix_modify(self, account: Account, params: Mapping[str, Any]) -> dict[str, str]:
        _, info = self._contract(params)
        order = self.mix_find(account, params)
        if order is None or order["state"] not in ("live", "partially_filled"):
            raise SimError("40768", "Order does not exist")
        new_oid = params.get("newClientOid")
        if not new_oid:
            raise SimError("40019", "Parameter newClientOid cannot be empty")
        if new_oid == order["clientOid"] or self._duplicate(account, new_oid):
            raise SimError("40786", "Duplicate clientOid")
        size, price = self._dec(params, "newSize"), self._dec(params, "newPrice")
        self._check_mix_size(info, size)
        self._check_mix_price(info, price)
        self.modifications.append(dict(params))
        order.update(size=s(size), price=s(price), clientOid=new_oid, uTime=str(self.tick()))
        account.order_cids.add(new_oid, order["orderId"])
        return {"orderId": order["orderId"], "clientOid": new_oid}

    def mix_plan_place(self, account: Account, params: Mapping[str, Any], path: str) -> dict[str, str]:
        product, info = self._contract(params)
        if params.get("planType") != "normal_plan":
            raise SimError("40020", "Parameter planType error")
        size = self._dec(params, "size")
        self._check_mix_size(info, size)
        self._check_mix_price(info, self._dec(params, "triggerPrice"))
        hold, closing = self._mix_sides(account, params)
        if self._duplicate(account, params.get("clientOid")):
            raise SimError("40786", "Duplicate clientOid")
        self.placements.append((account.key, path, dict(params)))
        now = self.tick()
        plan = {
            "planType": "normal_plan", "symbol": info["symbol"], "size": s(size), "orderId": self._new_id(),
            "clientOid": params.get("clientOid") or self._new_id(), "price": str(params.get("price", "")),
            "executePrice": str(params.get("price", "")), "callbackRatio": "", "triggerPrice": str(params["triggerPrice"]),
            "triggerType": params.get("triggerType", "fill_price"), "planStatus": "live", "side": params["side"],
            "posSide": hold if account.pos_mode == "hedge_mode" else "net", "marginCoin": str(params["marginCoin"]).upper(),
            "marginMode": params.get("marginMode", "crossed"), "enterPointSource": "API",
            "tradeSide": params.get("tradeSide", "") if account.pos_mode == "hedge_mode" else f"{params['side']}_single",
            "posMode": account.pos_mode, "orderType": params.get("orderType", "market"),
            "reduceOnly": "YES" if closing and account.pos_mode != "hedge_mode" else "NO",
            "cTime": str(now), "uTime": str(now), "_product": product,
        }
        account.plans[plan["orderId"]] = plan
        return {"orderId": plan["orderId"], "clientOid": plan["clientOid"]}

    # --- views -----------------------------------------------------------------------------------------------
    @staticmethod
    def public(order: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in order.items() if not k.startswith("_")}

    def spot_assets(self, account: Account, coin: str | None = None) -> list[dict[str, str]]:
        wallet = account.spot
        return [{"coin": name, "available": s(wallet.available(name)), "frozen": s(wallet.locked.get(name, Decimal(0))),
                 "locked": "0", "limitAvailable": "0", "uTime": str(self.now_ms)}
                for name in wallet.assets() if coin in (None, name)]

    def mix_accounts(self, account: Account, product: str) -> list[dict[str, str]]:
        coins = {"USDT-FUTURES": ["USDT"], "USDC-FUTURES": ["USDC"], "COIN-FUTURES": ["BTC"]}.get(product, [])
        return [self.mix_account(account, coin) for coin in coins]

    def mix_account(self, account: Account, coin: str) -> dict[str, str]:
        available = account.margin.get(coin, Decimal(0))
        return {"marginCoin": coin, "locked": "0", "available": s(available), "crossedMaxAvailable": s(available),
                "isolatedMaxAvailable": s(available), "maxTransferOut": s(available), "accountEquity": s(available),
                "usdtEquity": s(available), "btcEquity": "0", "crossedRiskRate": "0", "unrealizedPL": "0",
                "coupon": "0", "crossedMarginLeverage": "20", "isolatedLongLever": "20", "isolatedShortLever": "20",
                "marginMode": account.margin_mode, "posMode": account.pos_mode}

    def mix_positions(self, account: Account, product: str) -> list[dict[str, str]]:
        out = []
        for (symbol, hold), (size, entry) in account.positions.items():
            if self.contract_by_symbol[symbol][0] != product:
                continue
            mark = self.price(symbol)
            pnl = (mark - entry) * size * (1 if hold == "long" else -1)
            out.append({"marginCoin": self.contract_by_symbol[symbol][1]["supportMarginCoins"][0], "symbol": symbol,
                        "holdSide": hold, "openDelegateSize": "0", "marginSize": s(size * entry / LEVERAGE),
                        "available": s(size), "locked": "0", "total": s(size), "leverage": s(LEVERAGE),
                        "achievedProfits": "0", "openPriceAvg": s(entry), "marginMode": account.margin_mode,
                        "posMode": account.pos_mode, "unrealizedPL": s(pnl), "liquidationPrice": "0",
                        "markPrice": s(mark), "cTime": str(self.now_ms), "uTime": str(self.now_ms)})
        return out
