"""The simulator's commitment levels: ``processed`` subscribers hear a transaction at once,
``confirmed`` ones ``confirm_delay_ms`` later; ``dropNext`` leaves transactions processed-only;
``getSignatureStatuses`` says which is which, in the JSON-RPC shape of agave."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from engine.chain import programs as P
from engine.chain.rpc import RpcClient
from engine.chain.ws import LogsNotification, WsClient
from tests.engine.sim.support import running_sim

DELAY_MS = 300


async def _post(url: str, method: str, params: list[Any]) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        r = await http.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        )
    reply: dict[str, Any] = r.json()
    return reply


async def _next_logs(ws: WsClient) -> tuple[LogsNotification, float]:
    while True:
        note = await ws.recv()
        if isinstance(note, LogsNotification):
            return note, time.monotonic()


async def test_processed_subscribers_hear_first_confirmed_ones_after_the_delay() -> None:
    async with (
        running_sim(confirm_delay_ms=DELAY_MS) as sim,
        WsClient(sim.ws_url) as fast,
        WsClient(sim.ws_url) as slow,
        RpcClient(sim.http_url) as rpc,
    ):
        await fast.logs_subscribe(P.PUMP_PROGRAM, commitment="processed")
        await slow.logs_subscribe(P.PUMP_PROGRAM, commitment="confirmed")
        emitted_at = time.monotonic()
        tx = await sim.emit_until(lambda t: P.PUMP_PROGRAM in t.account_keys)
        async with asyncio.timeout(5):
            note, fast_at = await _next_logs(fast)
        assert note.signature == tx.signature
        # Before confirmation the node knows it only as processed; RPC history lacks it.
        (status,) = await rpc.get_signature_statuses([tx.signature])
        assert status is not None and status.confirmation_status == "processed"
        assert await rpc.get_transaction(tx.signature) is None
        async with asyncio.timeout(5):
            note, slow_at = await _next_logs(slow)
        assert note.signature == tx.signature
        assert fast_at - emitted_at < DELAY_MS / 1000
        assert slow_at - emitted_at >= DELAY_MS / 1000 * 0.9
        (status,) = await rpc.get_signature_statuses([tx.signature])
        assert status is not None and status.confirmation_status == "confirmed"
        assert await rpc.get_transaction(tx.signature) is not None


async def test_drop_next_makes_transactions_processed_only() -> None:
    async with (
        running_sim(confirm_delay_ms=50) as sim,
        WsClient(sim.ws_url) as fast,
        WsClient(sim.ws_url) as slow,
        RpcClient(sim.http_url) as rpc,
    ):
        await fast.logs_subscribe(P.PUMP_PROGRAM, commitment="processed")
        await slow.logs_subscribe(P.PUMP_PROGRAM, commitment="confirmed")
        assert (await _post(sim.http_url, "simControl", [{"action": "dropNext", "count": 1}]))[
            "result"
        ] is True
        dropped = await sim.emit_until(lambda t: P.PUMP_PROGRAM in t.account_keys)
        kept = await sim.emit_until(lambda t: P.PUMP_PROGRAM in t.account_keys)
        async with asyncio.timeout(5):
            heard_fast = [(await _next_logs(fast))[0].signature for _ in range(2)]
            heard_slow = (await _next_logs(slow))[0].signature
        assert heard_fast == [dropped.signature, kept.signature]
        assert heard_slow == kept.signature  # the dropped one never reaches confirmed
        history = await rpc.get_signatures_for_address(P.PUMP_PROGRAM, limit=1000)
        assert kept.signature in {s.signature for s in history}
        assert dropped.signature not in {s.signature for s in history}
        assert await rpc.get_transaction(dropped.signature) is None
        statuses = await rpc.get_signature_statuses([dropped.signature, kept.signature])
        assert statuses[0] is None
        assert statuses[1] is not None and statuses[1].confirmation_status == "confirmed"
        assert sim.stats["never_confirmed"] == 1


async def test_signature_statuses_shape_and_limits() -> None:
    async with running_sim(confirm_delay_ms=60_000) as sim:
        (tx,) = await sim.emit(1)
        unknown = "1" * 88
        reply = await _post(
            sim.http_url,
            "getSignatureStatuses",
            [[tx.signature, unknown], {"searchTransactionHistory": True}],
        )
        result = reply["result"]
        assert set(result) == {"context", "value"}
        assert isinstance(result["context"]["slot"], int)
        first, second = result["value"]
        assert first == {
            "slot": tx.slot,
            "confirmations": 0,
            "err": None,
            "status": {"Ok": None},
            "confirmationStatus": "processed",
        }
        assert second is None
        too_many = await _post(sim.http_url, "getSignatureStatuses", [[unknown] * 257])
        assert too_many["error"]["code"] == -32602
        bad = await _post(
            sim.http_url,
            "getSignatureStatuses",
            [[unknown], {"searchTransactionHistory": "yes"}],
        )
        assert bad["error"]["code"] == -32602


async def test_without_a_delay_every_commitment_hears_at_once() -> None:
    async with (
        running_sim() as sim,
        WsClient(sim.ws_url) as fast,
        WsClient(sim.ws_url) as slow,
        RpcClient(sim.http_url) as rpc,
    ):
        await fast.logs_subscribe(P.PUMP_PROGRAM, commitment="processed")
        await slow.logs_subscribe(P.PUMP_PROGRAM, commitment="confirmed")
        tx = await sim.emit_until(lambda t: P.PUMP_PROGRAM in t.account_keys)
        async with asyncio.timeout(5):
            assert (await _next_logs(fast))[0].signature == tx.signature
            assert (await _next_logs(slow))[0].signature == tx.signature
        (status,) = await rpc.get_signature_statuses([tx.signature])
        assert status is not None and status.confirmation_status == "confirmed"
