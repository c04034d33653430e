"""The venue registry."""

from __future__ import annotations

from engine.chain import programs as P
from engine.chain.registry import VENUES, venues_by_program
from engine.chain.venue import Venue
from engine.events import VENUES as EVENT_VENUES


def test_every_venue_is_a_contract_venue_and_owns_distinct_programs() -> None:
    by_program = venues_by_program()
    assert {cls.name for cls in VENUES} <= EVENT_VENUES
    assert sum(len(cls.programs) for cls in VENUES) == len(by_program)
    assert by_program[P.PUMP_PROGRAM].name == "pumpfun"
    assert by_program[P.RAYDIUM_AMM_V4_PROGRAM].name == "raydium_amm_v4"
    assert P.RAYDIUM_CLMM_PROGRAM not in by_program  # CLMM is not AMM v4


def test_base_class_decodes_nothing() -> None:
    assert Venue().decode_event(b"\x00" * 64, None, 0, None) is None  # type: ignore[arg-type]
    assert Venue().decode_log("ray_log: AAAA", None, 0, None) is None  # type: ignore[arg-type]
