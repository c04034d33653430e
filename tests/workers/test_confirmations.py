"""The confirmation tracker against the simulator's getSignatureStatuses: confirmed signatures
are forgotten, expired ones retracted (one retraction per mint), RPC failures never retract,
calls carry at most 256 signatures, and memory is bounded. Plus the retraction's bus shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.bus.memory import MemoryBus
from engine.chain.rpc import RetryPolicy, RpcClient
from engine.clock import SystemClock
from engine.events import ChainEvent, EventFormatError, Retraction, parse_bus_event
from engine.jobs.base import JobRegistry
from engine.settings import RpcProvider, load_settings
from engine.sim.server import SimServer
from tests.engine.sim.support import running_sim
from workers.confirmations import ConfirmationTracker
from workers.ingest import IngestSupervisor
from workers.migrate import upgrade_async
from workers.runtime import open_deps

UNKNOWN = ["1" * 87 + str(i) for i in range(10)]


class Head:
    """The slot clock the tracker reads (the ingest's head slot)."""

    def __init__(self, slot: int) -> None:
        self.slot = slot


def _tracker(
    rpc: RpcClient, head: Head, out: list[Retraction], **kwargs: Any
) -> ConfirmationTracker:
    return ConfirmationTracker(
        rpc.get_signature_statuses, out.extend, lambda: head.slot, expiry_slots=10, **kwargs
    )


async def _confirmed_tx(sim: SimServer) -> str:
    (tx,) = await sim.emit(1)
    return tx.signature


async def test_confirmed_are_forgotten_and_expired_are_retracted_per_mint() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url) as rpc:
        confirmed = await _confirmed_tx(sim)
        sim.drop_next(1)
        (dropped,) = await sim.emit(1)
        head = Head(sim.current_slot)
        out: list[Retraction] = []
        expired: list[str] = []
        tracker = _tracker(rpc, head, out, on_expired=expired.append)
        tracker.track(confirmed, dropped.slot, ["MintA"])
        tracker.track(dropped.signature, dropped.slot, ["MintA", "MintB", "MintA"])
        tracker.track(UNKNOWN[1], dropped.slot, [])  # a fetch that failed: nothing to retract
        await tracker.poll_once()
        # Not expired yet: the dropped one waits, the confirmed one is done.
        assert tracker.confirmed == 1 and len(tracker) == 2 and out == []
        head.slot = dropped.slot + 10
        await tracker.poll_once()
        assert len(tracker) == 0 and tracker.retracted == 1
        assert sorted(expired) == sorted([dropped.signature, UNKNOWN[1]])
        assert out == [
            Retraction(dropped.signature, "MintA", dropped.slot),
            Retraction(dropped.signature, "MintB", dropped.slot),
        ]


async def test_processed_but_unconfirmed_waits_then_is_retracted_past_expiry() -> None:
    async with running_sim(confirm_delay_ms=60_000) as sim, RpcClient(sim.http_url) as rpc:
        (tx,) = await sim.emit(1)
        head = Head(tx.slot)
        out: list[Retraction] = []
        tracker = _tracker(rpc, head, out)
        tracker.track(tx.signature, tx.slot, ["M"])
        await tracker.poll_once()
        assert tx.signature in tracker and out == []
        head.slot = tx.slot + 10  # still only processed 10 slots on: its fork is gone
        await tracker.poll_once()
        assert out == [Retraction(tx.signature, "M", tx.slot)]


async def test_rpc_failures_never_retract_and_the_next_poll_asks_again() -> None:
    async with (
        running_sim() as sim,
        RpcClient(sim.http_url, retry=RetryPolicy(max_attempts=2, base_delay_s=0.01)) as rpc,
    ):
        head = Head(sim.current_slot + 100)
        out: list[Retraction] = []
        tracker = _tracker(rpc, head, out)
        tracker.track(UNKNOWN[0], sim.current_slot, ["M"])
        sim.fail_http(503, 2)
        await tracker.poll_once()
        assert tracker.rpc_errors == 1 and out == [] and UNKNOWN[0] in tracker
        await tracker.poll_once()
        assert [r.signature for r in out] == [UNKNOWN[0]]


async def test_calls_carry_at_most_256_signatures_and_memory_is_bounded() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url) as rpc:
        head = Head(sim.current_slot)
        out: list[Retraction] = []
        tracker = _tracker(rpc, head, out, calls_per_poll=2, capacity=600)
        sigs = [f"{i:088d}" for i in range(700)]
        for sig in sigs:
            tracker.track(sig, sim.current_slot, ["M"])
        assert len(tracker) == 600 and tracker.unverified == 100
        assert sigs[0] not in tracker and sigs[-1] in tracker  # the oldest went first
        before = sim.stats["http_requests"]
        await tracker.poll_once()
        assert sim.stats["http_requests"] - before == 2  # 512 asked, 256 a call
        head.slot += 10
        await tracker.poll_once()
        await tracker.poll_once()
        assert len(out) == 512 + 88 and len(tracker) == 0


def test_retraction_rides_the_events_stream_without_touching_the_event_contract() -> None:
    r = Retraction("sig", "mint", 5)
    assert parse_bus_event(r.to_json()) == r
    event = ChainEvent("trade", "pumpfun", "sig", 5, 1, "mint", side="buy")
    assert parse_bus_event(event.to_json()) == event
    with pytest.raises(EventFormatError):
        ChainEvent.from_json(r.to_json())  # an old reader refuses it as a bad message
    for bad in (
        b'{"type":"retract","signature":"s","mint":"m","slot":-1}',
        b'{"type":"retract","signature":"s","slot":1}',
        b'{"type":"retract","signature":"s","mint":"m","slot":1,"x":1}',
    ):
        with pytest.raises(EventFormatError):
            parse_bus_event(bad)


async def test_processed_is_for_subscriptions_http_reads_stay_confirmed(
    isolated_env: Path, tmp_sqlite: str
) -> None:
    """getTransaction refuses `processed`: the shared client (risk, trade confirmation) and
    ingest's own HTTP reads use `confirmed` whatever the subscriptions use."""
    await upgrade_async(tmp_sqlite)
    async with running_sim() as sim:
        provider = RpcProvider(name="sim", http_url=sim.http_url, ws_url=sim.ws_url)
        settings = load_settings(
            database_url=tmp_sqlite, rpc_providers=[provider], rpc_commitment="processed"
        )
        async with open_deps(settings, JobRegistry()) as deps:
            assert deps.rpc.commitment == "confirmed"
            (tx,) = await sim.emit(1)
            assert await deps.rpc.get_transaction(tx.signature) is not None
        sup = IngestSupervisor(
            [provider], MemoryBus(1), clock=SystemClock(), commitment="processed"
        )
        try:
            assert sup.confirmations is not None
            assert await sup._providers[0].rpc.get_transaction(tx.signature) is not None
        finally:
            await sup.aclose()
