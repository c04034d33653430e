"""Scenario → transactions: deterministic for a seed, and every behaviour of the demo shows up
on chain the way it would on mainnet."""

from __future__ import annotations

import collections
import itertools
import json
from pathlib import Path

import pytest

from engine.events import ChainEvent
from engine.sim.generator import Generator
from engine.sim.scenario import ScenarioError, load_scenario, parse_scenario
from engine.sim.tx import SimTx, transaction_json
from tests.engine.sim.support import demo, demo_txs


def _events(txs: tuple[SimTx, ...]) -> list[ChainEvent]:
    return [e for tx in txs for e in tx.intended]


def test_same_seed_same_chain_byte_for_byte() -> None:
    a = list(itertools.islice(Generator(demo(), 11), 150))
    b = list(itertools.islice(Generator(demo(), 11), 150))
    assert [t.signature for t in a] == [t.signature for t in b]
    assert [t.ws_body for t in a] == [t.ws_body for t in b]
    assert [transaction_json(t) for t in a[:40]] == [transaction_json(t) for t in b[:40]]


def test_another_seed_another_chain() -> None:
    a = list(itertools.islice(Generator(demo(), 1), 20))
    b = list(itertools.islice(Generator(demo(), 2), 20))
    assert not {t.signature for t in a} & {t.signature for t in b}
    assert a[0].intended[0].mint != b[0].intended[0].mint


def test_rate_mode_stamps_transactions_evenly() -> None:
    txs = list(itertools.islice(Generator(demo(), 7, rate=50), 60))
    assert [t.t_ms for t in txs] == [i * 20 for i in range(60)]
    # 400 ms slots: 20 transactions per slot at 50/s, block time follows the slot.
    assert txs[20].slot == txs[0].slot + 1 and txs[59].slot == txs[0].slot + 2


def test_organic_pump_graduates_to_pumpswap() -> None:
    events = _events(demo_txs())
    moon = next(e.mint for e in events if e.kind == "create" and e.symbol == "MCAT")
    kinds = [e.kind for e in events if e.mint == moon]
    assert kinds.index("complete") < kinds.index("pool_create") < kinds.index("migrate")
    migrated_at = kinds.index("migrate")
    after = [e for e in events if e.mint == moon][migrated_at + 1 :]
    assert after and all(e.venue == "pumpswap" and e.kind == "swap" for e in after)
    last_curve = [e for e in events if e.mint == moon and e.kind == "trade"][-1]
    # The last buy empties the curve: 1.073e15 - 793.1e12 tokens are left virtually.
    assert last_curve.virtual_token_reserves == 279_900_000_000_000


def test_smart_money_burst_and_snipers() -> None:
    txs = demo_txs()
    gen = Generator(demo(), 7)
    whales = set(gen.groups["whale"])
    snipers = set(gen.groups["sniper"])
    moon = gen.tokens["MOON"].mint
    buys = [(tx, e) for tx in txs for e in tx.intended if e.mint == moon and e.side == "buy"]
    whale_buys = [tx.t_ms for tx, e in buys if e.trader in whales]
    assert len(whale_buys) == 4 and all(18_000 <= t <= 28_000 for t in whale_buys)
    sniper_buys = [tx.t_ms for tx, e in buys if e.trader in snipers]
    assert len(sniper_buys) == 5 and all(2_000 <= t <= 3_200 for t in sniper_buys)


def test_dev_rug_sells_everything() -> None:
    gen = Generator(demo(), 7)
    txs = list(gen)
    rug = gen.tokens["RUG"]
    dev_trades = [e for e in _events(tuple(txs)) if e.mint == rug.mint and e.trader == rug.dev]
    bought = sum(e.token_amount or 0 for e in dev_trades if e.side == "buy")
    sells = [e for e in dev_trades if e.side == "sell"]
    assert len(sells) == 1 and sells[0].token_amount == bought
    assert gen.chain.balance(rug.dev, rug.mint) == 0


def test_honeypot_freezes_buyers_and_their_sells_fail() -> None:
    gen = Generator(demo(), 7)
    txs = list(gen)
    trap = gen.tokens["TRAP"]
    freezes = [tx for tx in txs if "Program log: Instruction: FreezeAccount" in tx.logs]
    assert freezes
    assert all(tx.account_keys[0] == trap.dev and not tx.intended for tx in freezes)
    failed = [tx for tx in txs if tx.err is not None]
    assert failed
    for tx in failed:
        assert trap.mint in tx.account_keys
        assert tx.err["InstructionError"][1] == {"Custom": 17}
        assert "Program log: Error: Account is frozen" in tx.logs
        assert tx.intended == ()
    sells = [e for e in _events(tuple(txs)) if e.mint == trap.mint and e.side == "sell"]
    assert sells == []


def test_transfer_fee_is_withheld_from_the_buyer() -> None:
    gen = Generator(demo(), 7)
    fee_mint = gen.tokens["FEE"].mint
    for tx in gen:
        buys = [e for e in tx.intended if e.mint == fee_mint and e.side == "buy"]
        if buys:
            break
    else:
        pytest.fail("no FEE buy")
    e = buys[0]
    post = {b.owner: b.amount for b in tx.post_token_balances if b.mint == fee_mint}
    pre = {b.owner: b.amount for b in tx.pre_token_balances if b.mint == fee_mint}
    received = post[e.trader] - pre.get(e.trader, 0)
    assert e.token_amount is not None
    assert received == e.token_amount - (e.token_amount * 300 + 9999) // 10_000


def test_balances_are_consistent() -> None:
    for tx in demo_txs()[:300]:
        assert len(tx.pre_balances) == len(tx.post_balances) == len(tx.account_keys)
        # Lamports are conserved except for the fee, which is burnt/paid to the leader.
        assert sum(tx.pre_balances) - sum(tx.post_balances) == tx.fee


def test_every_demo_behaviour_is_present() -> None:
    c = collections.Counter((e.kind, e.venue, e.side) for e in _events(demo_txs()))
    for key in [
        ("create", "pumpfun", None),
        ("trade", "pumpfun", "buy"),
        ("trade", "pumpfun", "sell"),
        ("complete", "pumpfun", None),
        ("migrate", "pumpfun", None),
        ("pool_create", "pumpswap", None),
        ("swap", "pumpswap", "buy"),
        ("swap", "pumpswap", "sell"),
    ]:
        assert c[key] > 0, key


def test_shipped_scenarios_load() -> None:
    assert load_scenario("demo").name == "demo"
    burst = load_scenario("burst")
    assert len(burst.tokens) == 12
    first = list(itertools.islice(Generator(burst, 1, rate=20_000), 50))
    assert len(first) == 50


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"wallets": []}, "wallets must be a non-empty array"),
        ({"tokens": [{"id": "X", "dev": "nobody"}]}, r"tokens\[0\].dev"),
        ({"tokens": [{"id": "X", "dev": "d", "freeze_authority": True}]}, "pump.fun mints"),
        ({"behaviours": [{"kind": "moon", "token": "X"}]}, r"behaviours\[0\].kind"),
        ({"surprise": 1}, "unknown field"),
        ({"wallets": [{"id": "d", "role": "dev", "lamports": -1}]}, r"wallets\[0\].lamports"),
    ],
)
def test_scenario_errors_name_the_field(patch: dict[str, object], message: str) -> None:
    doc: dict[str, object] = {
        "name": "t",
        "wallets": [{"id": "d", "role": "dev"}],
        "tokens": [{"id": "X", "dev": "d"}],
    }
    doc.update(patch)
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(doc)


def test_scenario_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ScenarioError, match="not valid JSON"):
        load_scenario(bad)
    good = tmp_path / "ok.json"
    good.write_text(
        json.dumps({"name": "ok", "wallets": [{"id": "d", "role": "dev"}], "tokens": []})
    )
    assert load_scenario(good).tokens == ()
