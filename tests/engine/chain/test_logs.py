"""Attribution of log lines to the program that wrote them: the walker and the fast path."""

from __future__ import annotations

import random

import pytest

from engine.chain.logs import DATA, LOG, FailedTransaction, data_lines, walk_logs

from .conftest import fixture_path, load_fixture, result_of

PUMP = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P"
PAMM = "pAMMBay6oceH9fJKBRHGP5D4bD4sWpmSwMn52FMfXEA"
ROUTER = "6m2CDdhRgxpH4WjvdzxAYbGxwdGUz5MziiL5jek2kBma"
TOKEN = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
EVIL = "Ev1LPRogram1111111111111111111111111111111"


def _fast(logs: list[str]) -> list[tuple[int, str, str]] | None:
    return data_lines(logs)


def _slow(logs: list[str]) -> list[tuple[int, str, str]]:
    walk = walk_logs(logs)
    return [(n, prog, text) for n, kind, prog, _o, _i, text in walk.items if kind == DATA]


def test_router_writes_its_own_data_line() -> None:
    doc = load_fixture("pumpswap/pumpswap_buy_via_router_6m2C__enc-json.json")
    logs = result_of(doc)["meta"]["logMessages"]
    expected = [prog for _, prog, _ in _slow(logs)]
    assert expected == [PAMM, ROUTER]  # PumpSwap's BuyEvent, then the router's SwapEvent
    assert _fast(logs) == _slow(logs)


def test_walk_maps_lines_to_instructions() -> None:
    doc = load_fixture("jupiter/jupiter_v6_route_sol_to_pumptoken_via_raydium_v4__enc-json.json")
    logs = result_of(doc)["meta"]["logMessages"]
    walk = walk_logs(logs, want_logs=True)
    ray = [item for item in walk.items if item[5].startswith("ray_log: ")]
    assert len(ray) == 1
    _n, kind, program, outer, inner, _text = ray[0]
    # The route is top-level instruction 5; Raydium is its first CPI.
    assert (kind, program, outer, inner) == (
        LOG,
        "675kPX9MHTjS2zt1qfr1NYHuzeLXfQM9H24wFSUt1Mp8",
        5,
        0,
    )


@pytest.mark.parametrize(
    "rel",
    [
        "pumpfun/pump_buy__enc-json.json",
        "pumpfun/pump_buy_then_sell_same_tx__enc-jsonParsed.json",
        "pumpfun/pump_create_and_dev_buy__enc-json.json",
        "pumpfun/pump_create_v2_token2022_cashback_2026__enc-jsonParsed.json",
        "pumpfun/pump_sell__enc-json.json",
        "pumpswap/pumpswap_buy_via_router_6m2C__enc-json.json",
        "raydium_v4/raydium_clmm_swap_not_v4__enc-json.json",
        "jupiter/jupiter_v6_route_sol_to_pumptoken_via_raydium_v4__enc-json.json",
    ],
)
def test_fast_path_agrees_with_walker_on_recorded_logs(rel: str) -> None:
    fixture_path(rel)
    logs = result_of(load_fixture(rel))["meta"]["logMessages"]
    assert _fast(logs) == _slow(logs)
    if "jupiter" not in rel:  # Jupiter emits only through inner instructions
        assert _slow(logs)


def test_forged_structure_lines_do_not_move_the_stack() -> None:
    # A program can only write "Program log: ..." lines; text that looks structural must be
    # ignored, so the fake TradeEvent below stays attributed to the program that wrote it.
    logs = [
        f"Program {EVIL} invoke [1]",
        "Program log: success",
        f"Program log: Program {PUMP} invoke [2]",
        f"Program log: x {PUMP} success",
        "Program data: vdt/007mYe4=",
        f"Program {EVIL} consumed 100 of 200 compute units",
        f"Program {EVIL} success",
    ]
    assert _slow(logs) == [(4, EVIL, "vdt/007mYe4=")]
    assert _fast(logs) == _slow(logs)


def test_data_line_after_a_cpi_belongs_to_the_caller() -> None:
    logs = [
        f"Program {EVIL} invoke [1]",
        f"Program {PUMP} invoke [2]",
        f"Program {PUMP} consumed 1 of 2 compute units",
        f"Program {PUMP} success",
        "Program data: AAAA",  # written by EVIL after pump returned
        f"Program {EVIL} invoke [2]",
        f"Program {EVIL} success",
        f"Program {EVIL} success",
    ]
    assert _slow(logs) == [(4, EVIL, "AAAA")]
    assert _fast(logs) == _slow(logs)


def test_newline_inside_an_entry_falls_back_to_the_walker() -> None:
    logs = [
        f"Program {EVIL} invoke [1]",
        f"Program log: hi\nProgram {PUMP} invoke [2]",
        "Program data: AAAA",
        f"Program {EVIL} success",
    ]
    assert _fast(logs) is None
    assert _slow(logs) == [(2, EVIL, "AAAA")]


def test_failed_frame_and_truncation_are_reported() -> None:
    logs = [f"Program {PUMP} invoke [1]", "Program data: AAAA", f"Program {PUMP} failed: oops"]
    assert walk_logs(logs).failed
    with pytest.raises(FailedTransaction):
        data_lines(logs)
    assert data_lines(logs, check_failed=False) == [(1, PUMP, "AAAA")]
    assert walk_logs([f"Program {PUMP} invoke [1]", "Log truncated"]).truncated


def _random_logs(rng: random.Random) -> list[str]:
    """Well-formed logs of a random invocation tree with payload lines sprinkled in."""
    programs = [PUMP, PAMM, ROUTER, TOKEN, EVIL, "11111111111111111111111111111111"]
    logs: list[str] = []

    def frame(depth: int) -> None:
        program = rng.choice(programs)
        logs.append(f"Program {program} invoke [{depth}]")
        for _ in range(rng.randrange(4)):
            roll = rng.random()
            if roll < 0.3 and depth < 5:
                frame(depth + 1)
            elif roll < 0.6:
                logs.append(f"Program data: {rng.choice(['AAAA', 'vdt/007mYe4=', 'Zz=='])}")
            elif roll < 0.8:
                logs.append(rng.choice(["Program log: success", "Program log: Instruction: Buy"]))
            else:
                logs.append(f"Program return: {program} AAAA")
        if rng.random() < 0.8:
            logs.append(f"Program {program} consumed 10 of 20 compute units")
        logs.append(f"Program {program} success")

    for _ in range(rng.randrange(1, 4)):
        frame(1)
    return logs


def test_fast_path_agrees_with_walker_on_random_trees() -> None:
    rng = random.Random(1234)
    checked = 0
    for _ in range(3000):
        logs = _random_logs(rng)
        assert _fast(logs) == _slow(logs), logs
        checked += len(_slow(logs))
    assert checked > 1000  # the trees did contain payload lines
