"""Garbage never crashes a decoder: it yields nothing, a counted error, or a DecodeError."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.chain import programs as P
from engine.chain.decode import (
    DecodeError,
    DecodeStats,
    decode_document,
    decode_logs,
    decode_logs_notification,
    decode_transaction,
)
from engine.events import ChainEvent

from .conftest import SOLANA, deep, fixture_path, notification

FIXTURE_FILES = [
    "pumpfun/pump_buy__enc-json.json",
    "pumpfun/pump_buy_then_sell_same_tx__enc-jsonParsed.json",
    "pumpfun/pump_create_and_dev_buy__enc-json.json",
    "pumpfun/pump_create_v2_token2022_cashback_2026__enc-jsonParsed.json",
    "pumpfun/pump_sell__enc-json.json",
    "pumpswap/pumpswap_buy_via_router_6m2C__enc-json.json",
    "raydium_v4/raydium_v4_buy_token_with_sol__enc-json.json",
    "raydium_v4/raydium_clmm_swap_not_v4__enc-json.json",
    "jupiter/jupiter_v6_route_sol_to_pumptoken_via_raydium_v4__enc-json.json",
]
PROGRAMS = [
    P.PUMP_PROGRAM,
    P.PUMPSWAP_PROGRAM,
    P.RAYDIUM_AMM_V4_PROGRAM,
    P.RAYDIUM_CPMM_PROGRAM,
    P.JUPITER_V6_PROGRAM,
    "6m2CDdhRgxpH4WjvdzxAYbGxwdGUz5MziiL5jek2kBma",
]
DISCS = [
    P.PUMP_TRADE_EVENT,
    P.PUMP_CREATE_EVENT,
    P.PUMP_COMPLETE_EVENT,
    P.PUMP_COMPLETE_AMM_MIGRATION_EVENT,
    P.PUMPSWAP_BUY_EVENT,
    P.PUMPSWAP_SELL_EVENT,
    P.PUMPSWAP_CREATE_POOL_EVENT,
    P.ANCHOR_SWAP_EVENT,
    b"",
]
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=30,
)


def _fixture_docs() -> list[Any]:
    fixture_path(FIXTURE_FILES[0])
    return [json.loads((SOLANA / rel).read_text()) for rel in FIXTURE_FILES]


def _check_events(events: list[ChainEvent]) -> None:
    for event in events:
        assert ChainEvent.from_json(event.to_json()) == event


@FUZZ
@given(lines=st.lists(st.text(max_size=80), max_size=30))
def test_random_log_lines(lines: list[str]) -> None:
    stats = DecodeStats()
    _check_events(decode_logs("sig", 1, lines, ts_ms=0, stats=stats))
    _check_events(decode_logs_notification(notification(lines), ts_ms=0, stats=stats))


@FUZZ
@given(
    program=st.sampled_from(PROGRAMS),
    disc=st.sampled_from(DISCS),
    body=st.binary(max_size=420),
    depth=st.integers(1, 4),
    text_payload=st.text(max_size=40),
)
def test_random_payloads_from_known_programs(
    program: str, disc: bytes, body: bytes, depth: int, text_payload: str
) -> None:
    logs = [f"Program {program} invoke [{d}]" for d in range(1, depth + 1)]
    logs += [
        "Program data: " + base64.b64encode(disc + body).decode(),
        "Program data: " + text_payload,
        "Program log: ray_log: " + base64.b64encode(body).decode(),
        f"Program {program} consumed 1 of 2 compute units",
    ]
    logs += [f"Program {program} success"] * depth
    stats = DecodeStats()
    events = decode_logs("sig", 1, logs, ts_ms=0, stats=stats)
    _check_events(events)
    assert len(events) + stats.decode_errors <= 2


@FUZZ
@given(doc=json_values)
def test_random_json_documents(doc: Any) -> None:
    for call in (
        lambda: decode_transaction(doc),
        lambda: decode_logs_notification(doc, ts_ms=0),
        lambda: decode_logs_notification(json.dumps(doc), ts_ms=0),
        lambda: decode_document(doc, receipt_ts_ms=0),
    ):
        try:
            _check_events(call())
        except DecodeError:
            pass


def _mutate(node: Any, rng: random.Random, replacement: Any) -> Any:
    """Replace, drop or corrupt one randomly chosen value somewhere in ``node``."""
    if isinstance(node, dict) and node:
        k = rng.choice(list(node))
        roll = rng.random()
        if roll < 0.2:
            del node[k]
        elif roll < 0.5:
            node[k] = deep(replacement)
        else:
            node[k] = _mutate(node[k], rng, replacement)
        return node
    if isinstance(node, list) and node:
        i = rng.randrange(len(node))
        roll = rng.random()
        if roll < 0.2:
            del node[i]
        elif roll < 0.4:
            node[i] = deep(replacement)
        else:
            node[i] = _mutate(node[i], rng, replacement)
        return node
    if isinstance(node, str) and node:
        i = rng.randrange(len(node))
        return node[:i] + rng.choice("A/+=\n x:[]0") + node[i + 1 :]
    if isinstance(node, int) and not isinstance(node, bool):
        return rng.choice([-1, 0, 2**64, node + 1])
    return deep(replacement)


@FUZZ
@given(seed=st.integers(0, 2**32), replacement=json_values, rounds=st.integers(1, 8))
def test_mutated_recorded_transactions(seed: int, replacement: Any, rounds: int) -> None:
    rng = random.Random(seed)
    docs = _fixture_docs()
    doc = deep(rng.choice(docs))
    for _ in range(rounds):
        doc = _mutate(doc, rng, replacement)
    stats = DecodeStats()
    try:
        _check_events(decode_transaction(doc, receipt_ts_ms=0, stats=stats))
    except DecodeError:
        pass


@FUZZ
@given(seed=st.integers(0, 2**32), rounds=st.integers(1, 12))
def test_mutated_recorded_logs(seed: int, rounds: int) -> None:
    rng = random.Random(seed)
    res = rng.choice(_fixture_docs())
    res = res[0] if isinstance(res, list) else res.get("result", res)
    logs = list(res["meta"]["logMessages"])
    for _ in range(rounds):
        i = rng.randrange(len(logs))
        roll = rng.random()
        if roll < 0.3:
            del logs[i]
        elif roll < 0.5:
            logs.insert(i, logs[rng.randrange(len(logs))])
        else:
            line = logs[i]
            j = rng.randrange(len(line) + 1)
            logs[i] = (
                line[:j]
                + rng.choice(["", "x", "\n", "]", " success", "=", "Program "])
                + line[j + 1 :]
            )
    stats = DecodeStats()
    _check_events(decode_logs("sig", 1, logs, ts_ms=0, stats=stats))
