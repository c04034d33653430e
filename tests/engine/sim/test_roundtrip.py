"""Every simulated transaction decodes back to exactly the events the scenario intended: through
getTransaction in each encoding, and (for what logs carry on their own) through logsSubscribe.

Runs only when the decoders (``engine.chain.decode``) are importable."""

from __future__ import annotations

from typing import Any

import pytest

from engine.chain import programs as P
from engine.chain.rpc import RpcClient
from engine.events import ChainEvent
from engine.sim.tx import transaction_json
from tests.engine.sim.support import demo_txs, running_sim

decode = pytest.importorskip("engine.chain.decode", reason="decoders not built yet")

FIELDS = (
    "kind",
    "venue",
    "signature",
    "slot",
    "ts",
    "mint",
    "trader",
    "side",
    "sol_lamports",
    "token_amount",
    "virtual_sol_reserves",
    "virtual_token_reserves",
    "pool",
)


def _view(events: list[ChainEvent] | tuple[ChainEvent, ...]) -> list[tuple[Any, ...]]:
    return [tuple(getattr(e, f) for f in FIELDS) for e in events]


@pytest.mark.parametrize("encoding", ["json", "jsonParsed", "base64"])
def test_every_demo_transaction_decodes_to_its_intended_events(encoding: str) -> None:
    txs = demo_txs()
    assert len(txs) > 1000
    mismatches = []
    for tx in txs:
        got = decode.decode_transaction(transaction_json(tx, encoding))
        if _view(got) != _view(tx.intended):
            mismatches.append((tx.signature, _view(got), _view(tx.intended)))
    assert not mismatches, mismatches[:3]


def test_logs_alone_give_the_pump_events() -> None:
    # A logsNotification carries no accounts: pump.fun events and pool creations are complete
    # on their own; PumpSwap swaps need the transaction (they name neither mint).
    for tx in demo_txs():
        got = decode.decode_logs(tx.signature, tx.slot, list(tx.logs), ts_ms=tx.block_time * 1000)
        want = [e for e in tx.intended if e.venue == "pumpfun" or e.kind == "pool_create"]
        assert _view(got) == _view(want), tx.signature


def test_logs_events_carry_their_block_time_not_the_receipt_time() -> None:
    # Every pump.fun and PumpSwap event holds its block's timestamp; a notification received a
    # week late must still decode to the block time, or one feed mixes two clocks (live ts for
    # some kinds, block ts for others) and the windows see events months apart.
    week_ms = 7 * 24 * 3600 * 1000
    kinds = set()
    for tx in demo_txs():
        late = tx.block_time * 1000 + week_ms
        got = decode.decode_logs(tx.signature, tx.slot, list(tx.logs), ts_ms=late)
        want = [e for e in tx.intended if e.venue == "pumpfun" or e.kind == "pool_create"]
        assert _view(got) == _view(want), tx.signature
        kinds.update(e.kind for e in got)
    assert {"create", "trade", "complete", "migrate", "pool_create"} <= kinds


async def test_fetched_over_rpc_and_decoded() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url) as rpc:
        emitted = await sim.emit(25)
        for sig in await rpc.get_signatures_for_address(P.PUMP_PROGRAM, limit=25):
            tx = await rpc.get_transaction(sig.signature)
            assert tx is not None
            want = next(t for t in emitted if t.signature == sig.signature)
            assert _view(decode.decode_transaction(dict(tx))) == _view(want.intended)
