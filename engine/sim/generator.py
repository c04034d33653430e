"""Turns a scenario into a deterministic stream of simulated transactions.

Behaviours schedule *intents* (launch, buy, sell, …) on a time-ordered heap; each intent runs
against the chain state when its time comes and yields at most one transaction, and may schedule
follow-ups (a completed curve schedules its migration, a honeypot buy schedules a freeze).
Organic trading is a lazy Poisson process: each tick schedules the next, so a scenario of a
million trades holds a handful of intents in memory.

Everything random comes from generators seeded with (seed, purpose), so the same scenario and
seed always produce the same transactions, byte for byte.
"""

from __future__ import annotations

import heapq
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from engine.chain import programs as P
from engine.sim.chain import Chain, ChainError
from engine.sim.keys import KeyStream
from engine.sim.scenario import BehaviourSpec, Scenario, TokenSpec
from engine.sim.tx import SimTx

logger = logging.getLogger(__name__)

_PROGRAMS: Final = {"token-2022": P.TOKEN_2022_PROGRAM, "spl": P.TOKEN_PROGRAM}


@dataclass(slots=True)
class TokenRuntime:
    """A scenario token and its on-chain identity."""

    spec: TokenSpec
    mint: str
    dev: str
    launched: bool = False


@dataclass(order=True, slots=True)
class _Intent:
    t_ms: int
    seq: int
    kind: str = field(compare=False)
    args: dict[str, Any] = field(compare=False, default_factory=dict)


class Generator:
    """Scenario + seed → transactions, in time order."""

    def __init__(self, scenario: Scenario, seed: int, *, rate: float | None = None) -> None:
        self.scenario = scenario
        self.seed = seed
        self.rate = rate
        self.chain = Chain(
            seed, start_slot=scenario.start_slot, start_unix_ms=scenario.start_unix_ms
        )
        self.produced = 0
        self._heap: list[_Intent] = []
        self._seq = 0
        wallet_keys = KeyStream(seed, "wallets")
        funding = random.Random(f"solai-sim:{seed}:funding")  # noqa: S311 - simulation only
        self.groups: dict[str, list[str]] = {}
        self.roles: dict[str, str] = {}
        for w in scenario.wallets:
            addresses = [wallet_keys.pubkey() for _ in range(w.count)]
            self.groups[w.id] = addresses
            for a in addresses:
                self.roles[a] = w.role
                self.chain.fund(a, funding.randint(*w.lamports))
        mint_keys = KeyStream(seed, "mints")
        self.tokens: dict[str, TokenRuntime] = {}
        for t in scenario.tokens:
            mint = mint_keys.vanity_mint() if t.venue == "pumpfun" else mint_keys.pubkey()
            dev = self.groups[t.dev][0]
            self.tokens[t.id] = TokenRuntime(t, mint, dev)
            if t.venue == "pumpswap":
                self.chain.setup_mint(
                    mint=mint,
                    creator=dev,
                    name=t.name,
                    symbol=t.symbol,
                    uri=t.uri,
                    supply=P.PUMP_TOKEN_TOTAL_SUPPLY,
                    decimals=P.PUMP_TOKEN_DECIMALS,
                    token_program=_PROGRAMS[t.token_program],
                    freeze_authority=dev if t.freeze_authority else None,
                    transfer_fee_bps=t.transfer_fee_bps,
                    transfer_fee_max=t.transfer_fee_max,
                )
            self._push(int(t.launch_s * 1000), "launch", token=t.id)
        for i, b in enumerate(scenario.behaviours):
            self._schedule_behaviour(i, b)

    # -- scheduling -----------------------------------------------------------------------

    def _push(self, t_ms: int, kind: str, **args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._heap, _Intent(max(0, t_ms), self._seq, kind, args))

    def _rng(self, index: int) -> random.Random:
        return random.Random(f"solai-sim:{self.seed}:behaviour:{index}")  # noqa: S311

    def _wallets(self, b: BehaviourSpec) -> list[str]:
        out: list[str] = []
        for w in b.wallets:
            out.extend(self.groups[w])
        return out

    def _schedule_behaviour(self, index: int, b: BehaviourSpec) -> None:
        rng = self._rng(index)
        token = self.tokens[b.token]
        if b.kind == "snipe":
            launch_ms = int(token.spec.launch_s * 1000)
            for w in self._wallets(b):
                # Snipers land in the launch slot or the few after it.
                delay = int(rng.uniform(0, b.within_s) * 1000) if b.within_s else 0
                self._push(
                    launch_ms + delay,
                    "buy",
                    token=b.token,
                    wallet=w,
                    lamports=rng.randint(*b.lamports),
                )
        elif b.kind == "smart_money_burst":
            for w in self._wallets(b):
                t = b.at_s + rng.uniform(0, b.within_s)
                self._push(
                    int(t * 1000), "buy", token=b.token, wallet=w, lamports=rng.randint(*b.lamports)
                )
        elif b.kind == "organic":
            self._push(int(b.from_s * 1000), "tick", behaviour=index)
        elif b.kind == "dev_rug":
            self._push(int(b.at_s * 1000), "sell", token=b.token, wallet=token.dev, fraction=1.0)
        elif b.kind == "dump":
            for w in self._wallets(b):
                t = b.at_s + rng.uniform(0, b.within_s)
                self._push(int(t * 1000), "sell", token=b.token, wallet=w, fraction=1.0)

    # -- running --------------------------------------------------------------------------

    def _time_of_next(self, t_ms: int) -> int:
        # With a fixed rate, transaction i lands at i/rate seconds: slots then advance every
        # 400 ms of emission time and the stream stays deterministic for (seed, rate).
        if self.rate:
            return int(self.produced * 1000 / self.rate)
        return t_ms

    def __iter__(self) -> Iterator[SimTx]:
        while True:
            tx = self.next_tx()
            if tx is None:
                return
            yield tx

    def next_tx(self) -> SimTx | None:
        """The next transaction, or None when the scenario is over."""
        while self._heap:
            intent = heapq.heappop(self._heap)
            try:
                tx = self._run(intent)
            except ChainError as exc:
                logger.debug("skipped %s at %d ms: %s", intent.kind, intent.t_ms, exc)
                continue
            if tx is not None:
                self.produced += 1
                return tx
        return None

    def _run(self, intent: _Intent) -> SimTx | None:
        kind, a = intent.kind, intent.args
        if kind == "tick":
            return self._tick(intent)
        token = self.tokens[a["token"]]
        t = self._time_of_next(intent.t_ms)
        chain = self.chain
        if kind == "launch":
            spec = token.spec
            if spec.venue == "pumpfun":
                tx = chain.op_create(
                    chain.ctx(t, signers=2),
                    mint=token.mint,
                    dev=token.dev,
                    name=spec.name,
                    symbol=spec.symbol,
                    uri=spec.uri,
                    token_program=_PROGRAMS[spec.token_program],
                    dev_buy_lamports=spec.dev_buy_lamports,
                    cashback=spec.cashback,
                )
            else:
                base = P.PUMP_TOKEN_TOTAL_SUPPLY * spec.pool_tokens_pct // 100
                tx = chain.op_pool_create(
                    chain.ctx(t),
                    creator=token.dev,
                    mint=token.mint,
                    base_amount=base,
                    quote_amount=spec.pool_lamports,
                )
            token.launched = True
            return tx
        if not token.launched:
            raise ChainError(f"{token.spec.id} is not launched yet")
        if kind == "buy":
            return self._buy(intent.t_ms, t, token, a["wallet"], a["lamports"])
        if kind == "sell":
            return self._sell(t, token, a["wallet"], a["fraction"])
        if kind == "migrate":
            return chain.op_migrate(chain.ctx(t), mint=token.mint)
        if kind == "freeze":
            return chain.op_freeze(
                chain.ctx(t), authority=token.dev, mint=token.mint, holder=a["holder"]
            )
        raise ValueError(f"unknown intent {kind}")

    def _buy(
        self, scenario_ms: int, t: int, token: TokenRuntime, wallet: str, lamports: int
    ) -> SimTx:
        chain = self.chain
        curve = chain.curves.get(token.mint)
        if curve is not None and not curve.complete:
            style = "buy" if chain.rng.random() < 0.3 else "buy_exact_sol_in"
            tx = chain.op_curve_buy(
                chain.ctx(t), user=wallet, mint=token.mint, lamports=lamports, style=style
            )
            if curve.complete:
                self._push(
                    scenario_ms + self.scenario.migrate_delay_ms, "migrate", token=token.spec.id
                )
        elif token.mint in chain.pools:
            tx = chain.op_pool_buy(chain.ctx(t), user=wallet, mint=token.mint, lamports=lamports)
        else:
            raise ChainError(f"{token.spec.id} has nowhere to trade right now")
        if token.spec.freeze_buyers and wallet != token.dev and tx.err is None:
            self._push(
                scenario_ms + token.spec.freeze_delay_ms,
                "freeze",
                token=token.spec.id,
                holder=wallet,
            )
        return tx

    def _sell(self, t: int, token: TokenRuntime, wallet: str, fraction: float) -> SimTx:
        chain = self.chain
        held = chain.balance(wallet, token.mint)
        amount = held if fraction >= 1.0 else int(held * fraction)
        if amount <= 0:
            raise ChainError(f"{wallet} holds no {token.spec.id}")
        curve = chain.curves.get(token.mint)
        if curve is not None and not curve.complete:
            return chain.op_curve_sell(chain.ctx(t), user=wallet, mint=token.mint, tokens=amount)
        if token.mint in chain.pools:
            return chain.op_pool_sell(chain.ctx(t), user=wallet, mint=token.mint, tokens=amount)
        raise ChainError(f"{token.spec.id} has nowhere to trade right now")

    def _tick(self, intent: _Intent) -> SimTx | None:
        index = intent.args["behaviour"]
        b = self.scenario.behaviours[index]
        rng: random.Random = intent.args.get("rng") or self._rng(index)
        # Schedule the next arrival first, so a skipped trade does not end the process.
        next_ms = intent.t_ms + max(1, int(rng.expovariate(b.rate_per_s) * 1000))
        if next_ms < b.to_s * 1000:
            self._push(next_ms, "tick", behaviour=index, rng=rng)
        token = self.tokens[b.token]
        if not token.launched:
            return None
        wallets = self._wallets(b)
        t = self._time_of_next(intent.t_ms)
        if rng.random() >= b.buy_ratio:
            for _ in range(8):
                w = wallets[rng.randrange(len(wallets))]
                if self.chain.balance(w, token.mint) > 0:
                    # A frozen honeypot holder still tries (and fails) to sell: the failed
                    # transaction lands on chain with its error, as on mainnet.
                    frozen = self.chain.is_frozen(w, token.mint)
                    return self._sell(t, token, w, 1.0 if frozen else rng.uniform(*b.sell_fraction))
        w = wallets[rng.randrange(len(wallets))]
        return self._buy(intent.t_ms, t, token, w, rng.randint(*b.lamports))
