"""The HTTP JSON-RPC client against the simulator over real sockets: typed results, retries only
on transient failures, Retry-After, and clear errors for replies that are not JSON-RPC."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from engine.chain import programs as P
from engine.chain.rpc import (
    RetryPolicy,
    RpcClient,
    RpcMalformedReply,
    RpcRateLimited,
    RpcResponseError,
    RpcTransportError,
)
from engine.settings import RpcProvider
from tests.engine.sim.support import running_sim

FAST = RetryPolicy(max_attempts=4, base_delay_s=0.01, max_delay_s=0.05)


async def test_typed_results() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url, retry=FAST) as rpc:
        [create, *_] = await sim.emit(3)
        assert await rpc.get_health() == "ok"
        assert await rpc.get_slot() == sim.current_slot
        tx = await rpc.get_transaction(create.signature)
        assert tx is not None and tx["slot"] == create.slot and tx["blockTime"] == create.block_time
        assert await rpc.get_transaction("1" * 64) is None
        mint = sim.generator.tokens["MOON"].mint
        [acct, missing] = await rpc.get_multiple_accounts([mint, str(P.WSOL_MINT[:-1] + "3")])
        assert acct is not None and acct.owner == P.TOKEN_2022_PROGRAM and missing is None
        latest = await rpc.get_latest_blockhash()
        assert latest.last_valid_block_height > 0 and len(latest.blockhash) >= 32


async def test_retries_429_then_succeeds_honouring_retry_after() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url, retry=FAST) as rpc:
        sim.fail_http(429, 2, retry_after=0.1)
        started = time.monotonic()
        assert await rpc.get_slot() == sim.current_slot
        assert rpc.attempts == 3
        assert time.monotonic() - started >= 0.2  # two Retry-After waits, not the 10 ms backoff


async def test_retries_5xx_then_succeeds() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url, retry=FAST) as rpc:
        sim.fail_http(500, 1)
        sim.fail_http(502, 1)
        assert await rpc.get_slot() > 0
        assert rpc.attempts == 3


async def test_gives_up_after_max_attempts() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url, retry=FAST) as rpc:
        sim.fail_http(503, 10)
        with pytest.raises(RpcTransportError, match="HTTP 503") as failed:
            await rpc.get_slot()
        assert failed.value.status == 503 and failed.value.transient
        assert rpc.attempts == FAST.max_attempts


async def test_rate_limited_surfaces_when_retries_run_out() -> None:
    async with (
        running_sim() as sim,
        RpcClient(sim.http_url, retry=RetryPolicy(max_attempts=1)) as rpc,
    ):
        sim.fail_http(429, 1, retry_after=3)
        with pytest.raises(RpcRateLimited) as limited:
            await rpc.get_slot()
        assert limited.value.retry_after_s == 3


async def test_node_behind_is_retried_but_bad_params_are_not() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url, retry=FAST) as rpc:
        sim.fail_rpc(-32005, "Node is behind by 42 slots", 2)
        assert await rpc.get_slot() > 0
        assert rpc.attempts == 3
        rpc.attempts = 0
        with pytest.raises(RpcResponseError) as bad:
            await rpc.get_account_info("not-a-key")
        assert bad.value.code == -32602 and not bad.value.transient
        assert rpc.attempts == 1


async def test_unhealthy_node_raises_from_get_health_without_retry() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url, retry=FAST) as rpc:
        sim.faults.unhealthy_slots = 120
        with pytest.raises(RpcResponseError, match="behind by 120") as behind:
            await rpc.get_health()
        assert behind.value.code == -32005 and rpc.attempts == 1


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("not_json", "reply is not JSON"),
        ("not_jsonrpc", 'reply field jsonrpc should be "2.0"'),
        ("no_result", "neither result nor error"),
        ("wrong_id", "reply field id should be the request id"),
        ("bad_field", "reply field result.context.slot should be an integer, got 'soon'"),
    ],
)
async def test_malformed_replies_raise_a_clear_error(kind: str, message: str) -> None:
    async with running_sim() as sim, RpcClient(sim.http_url, retry=FAST) as rpc:
        sim.malformed_http(1, kind)
        with pytest.raises(RpcMalformedReply, match=message) as bad:
            await rpc.get_latest_blockhash()
        assert "getLatestBlockhash" in str(bad.value)
        assert rpc.attempts == 1  # a broken reply is not retried


async def test_connection_refused_is_a_transport_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed on exit: nothing listens there
    async with RpcClient(f"http://127.0.0.1:{port}", retry=FAST) as rpc:
        with pytest.raises(RpcTransportError, match="transport error"):
            await rpc.get_slot()
        assert rpc.attempts == FAST.max_attempts


@contextlib.asynccontextmanager
async def _silent_server() -> AsyncIterator[int]:
    """A TCP server that accepts and never answers: the client must time out."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        held.append(w)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for w in held:
            w.close()
        server.close()
        await server.wait_closed()


async def test_timeouts_are_transport_errors() -> None:
    async with _silent_server() as port:
        retry = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.01)
        async with RpcClient(f"http://127.0.0.1:{port}", timeout_s=0.2, retry=retry) as rpc:
            started = time.monotonic()
            with pytest.raises(RpcTransportError, match="timed out"):
                await rpc.get_slot()
            assert rpc.attempts == 2 and time.monotonic() - started < 2


async def test_injected_http_client_is_left_open() -> None:
    async with running_sim() as sim, httpx.AsyncClient() as http:
        rpc = RpcClient(sim.http_url, http=http)
        assert await rpc.get_slot() > 0
        await rpc.aclose()
        assert not http.is_closed
        own = RpcClient(sim.http_url)
        await own.get_slot()
        await own.aclose()
        assert own.is_closed and not rpc.is_closed


def test_from_provider_takes_the_budget() -> None:
    provider = RpcProvider(
        name="p", http_url="http://127.0.0.1:1", ws_url="ws://127.0.0.1:2", requests_per_s=7
    )
    rpc = RpcClient.from_provider(provider, timeout_s=3)
    assert rpc.name == "p" and rpc.bucket is not None and rpc.bucket.rate == 7
