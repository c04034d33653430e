"""The simulated node over real sockets: JSON shapes as mainnet's, backfill after a WebSocket
gap, transactions submitted by a wallet (including the honeypot sell that must fail)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import orjson
import pytest
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction
from websockets.asyncio.client import connect

from engine.chain import programs as P
from engine.chain.rpc import RpcClient, RpcPreflightFailed
from engine.chain.ws import LogsNotification, WsClient
from engine.sim import encode as enc
from engine.sim import keys as K
from engine.sim.server import SimServer
from tests.conftest import fixtures_dir
from tests.engine.sim.support import running_sim


async def _post(url: str, method: str, params: list[Any]) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        r = await http.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        )
    reply: dict[str, Any] = r.json()
    return reply


def _keys(d: dict[str, Any]) -> set[str]:
    return set(d)


async def test_get_transaction_has_the_mainnet_shape() -> None:
    fixture = json.loads(fixtures_dir("solana", "pumpfun", "pump_buy__enc-json.json").read_text())[
        0
    ]
    async with running_sim() as sim, RpcClient(sim.http_url) as rpc:
        txs = await sim.emit(3)
        ours = await rpc.get_transaction(txs[-1].signature)
    assert ours is not None
    assert _keys(dict(ours)) == _keys(fixture)
    assert _keys(fixture["meta"]) <= _keys(ours["meta"]) <= _keys(fixture["meta"]) | {"costUnits"}
    msg, fmsg = ours["transaction"]["message"], fixture["transaction"]["message"]
    assert _keys(msg) == _keys(fmsg)
    assert _keys(msg["header"]) == _keys(fmsg["header"])
    assert _keys(msg["instructions"][0]) == _keys(fmsg["instructions"][0])
    inner = ours["meta"]["innerInstructions"][0]
    assert _keys(inner) == {"index", "instructions"}
    assert _keys(inner["instructions"][0]) == _keys(
        fixture["meta"]["innerInstructions"][0]["instructions"][0]
    )
    tb = ours["meta"]["postTokenBalances"][0]
    assert _keys(tb) == _keys(fixture["meta"]["postTokenBalances"][0])
    assert _keys(tb["uiTokenAmount"]) == _keys(
        fixture["meta"]["postTokenBalances"][0]["uiTokenAmount"]
    )
    assert ours["meta"]["status"] == {"Ok": None} and ours["version"] == 0
    logs = ours["meta"]["logMessages"]
    assert any(line.startswith(f"Program {P.PUMP_PROGRAM} invoke [1]") for line in logs)
    assert any(line.startswith("Program data: vdt/007mYe") for line in logs)  # TradeEvent
    assert any(" consumed " in line and line.endswith(" compute units") for line in logs)


async def test_v0_transactions_need_max_supported_version() -> None:
    async with running_sim() as sim:
        [tx] = await sim.emit(1)
        reply = await _post(sim.http_url, "getTransaction", [tx.signature, {"encoding": "json"}])
        assert reply["error"]["code"] == -32015
        reply = await _post(
            sim.http_url, "getTransaction", ["1" * 64, {"maxSupportedTransactionVersion": 0}]
        )
        assert reply["result"] is None


async def test_signatures_for_address_pages_newest_first() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url) as rpc:
        emitted = await sim.emit(40)
        pump = [t.signature for t in emitted if P.PUMP_PROGRAM in t.account_keys]
        page1 = await rpc.get_signatures_for_address(P.PUMP_PROGRAM, limit=10)
        assert [s.signature for s in page1] == pump[::-1][:10]
        page2 = await rpc.get_signatures_for_address(
            P.PUMP_PROGRAM, before=page1[-1].signature, limit=10
        )
        assert [s.signature for s in page2] == pump[::-1][10:20]
        until = await rpc.get_signatures_for_address(P.PUMP_PROGRAM, until=pump[-4])
        assert [s.signature for s in until] == pump[::-1][:3]
        assert all(s.block_time and s.err is None for s in page1)


async def test_websocket_messages_have_the_pubsub_shape() -> None:
    async with running_sim() as sim, connect(sim.ws_url) as ws:
        await ws.send(
            orjson.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "logsSubscribe",
                    "params": [{"mentions": [P.PUMP_PROGRAM]}, {"commitment": "confirmed"}],
                }
            ).decode()
        )
        ack = json.loads(await ws.recv())
        assert set(ack) == {"jsonrpc", "result", "id"} and isinstance(ack["result"], int)
        await ws.send('{"jsonrpc":"2.0","id":2,"method":"slotSubscribe"}')
        slot_ack = json.loads(await ws.recv())
        await ws.send(
            orjson.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 3,
                    "method": "logsSubscribe",
                    "params": [{"mentions": [P.PUMP_PROGRAM, P.PUMPSWAP_PROGRAM]}],
                }
            ).decode()
        )
        refused = json.loads(await ws.recv())
        assert refused["error"]["code"] == -32602 and refused["id"] == 3
        [tx] = await sim.emit(1)
        seen: dict[str, Any] = {}
        while "logsNotification" not in seen or "slotNotification" not in seen:
            msg = json.loads(await ws.recv())
            seen.setdefault(msg["method"], msg)
        logs = seen["logsNotification"]
        assert set(logs) == {"jsonrpc", "method", "params"}
        assert set(logs["params"]) == {"result", "subscription"}
        assert logs["params"]["subscription"] == ack["result"]
        assert logs["params"]["result"]["context"] == {"slot": tx.slot}
        assert logs["params"]["result"]["value"] == {
            "signature": tx.signature,
            "err": None,
            "logs": list(tx.logs),
        }
        slot = seen["slotNotification"]["params"]
        assert slot["subscription"] == slot_ack["result"]
        assert set(slot["result"]) == {"parent", "root", "slot"}


async def test_transactions_dropped_on_the_websocket_can_be_backfilled() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url) as rpc, WsClient(sim.ws_url) as ws:
        await ws.logs_subscribe(P.PUMP_PROGRAM)
        sim.drop_next_ws(3)
        emitted = [t for t in await sim.emit(8) if P.PUMP_PROGRAM in t.account_keys]
        got: list[str] = []
        while len(got) < len(emitted) - 3:
            note = await ws.recv()
            if isinstance(note, LogsNotification):
                got.append(note.signature)
        missing = [t.signature for t in emitted if t.signature not in got]
        assert len(missing) == 3
        # The ingest's backfill: walk signatures back until the last one it saw, fetch the rest.
        history = await rpc.get_signatures_for_address(P.PUMP_PROGRAM, limit=100)
        recovered = [s.signature for s in history if s.signature not in got]
        assert sorted(recovered) == sorted(missing)
        for sig in recovered:
            tx = await rpc.get_transaction(sig)
            assert tx is not None and tx["transaction"]["signatures"][0] == sig


def _signed(payer: str, ixs: list[Instruction], blockhash: str) -> VersionedTransaction:
    message = MessageV0.try_compile(Pubkey.from_string(payer), ixs, [], Hash.from_string(blockhash))
    # Signature checks are off unless sigVerify is asked for: any 64 bytes stand in.
    return VersionedTransaction.populate(message, [Signature(bytes(range(64)))])


def _pumpswap_sell(sim: SimServer, user: str, mint: str, amount: int) -> Instruction:
    pool = sim.chain.pools[mint]
    m = sim.chain.mints[mint]
    vault_auth = K.coin_creator_vault_authority(pool.coin_creator)
    keys = [
        (pool.address, True), (user, True), (P.PUMPSWAP_GLOBAL_CONFIG, False), (mint, False),
        (P.WSOL_MINT, False), (K.ata(user, mint, m.program), True),
        (K.ata(user, P.WSOL_MINT, P.TOKEN_PROGRAM), True), (pool.base_vault, True),
        (pool.quote_vault, True), (P.PUMP_FEE_RECIPIENTS[0], False),
        (K.ata(P.PUMP_FEE_RECIPIENTS[0], P.WSOL_MINT, P.TOKEN_PROGRAM), True),
        (m.program, False), (P.TOKEN_PROGRAM, False), (P.SYSTEM_PROGRAM, False),
        (P.ASSOCIATED_TOKEN_PROGRAM, False), (P.PUMPSWAP_EVENT_AUTHORITY, False),
        (P.PUMPSWAP_PROGRAM, False), (K.ata(vault_auth, P.WSOL_MINT, P.TOKEN_PROGRAM), True),
        (vault_auth, False), (P.PUMPSWAP_FEE_CONFIG, False), (P.PUMP_FEE_PROGRAM, False),
    ]  # fmt: skip
    metas = [AccountMeta(Pubkey.from_string(k), k == user, w) for k, w in keys]
    return Instruction(
        Pubkey.from_string(P.PUMPSWAP_PROGRAM), enc.ix_pumpswap_sell(amount, 0), metas
    )


async def test_honeypot_sell_fails_in_simulation_and_preflight() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url) as rpc:
        trap = sim.generator.tokens["TRAP"].mint
        await sim.emit_until(lambda tx: "Program log: Instruction: FreezeAccount" in tx.logs)
        holder = next(t for t in sim.chain.tokens.values() if t.mint == trap and t.frozen)
        blockhash = (await rpc.get_latest_blockhash()).blockhash
        tx = _signed(
            holder.owner, [_pumpswap_sell(sim, holder.owner, trap, holder.amount)], blockhash
        )
        result = await rpc.simulate_transaction(tx)
        assert not result.ok
        assert result.err["InstructionError"][1] == {"Custom": 17}
        assert "Program log: Error: Account is frozen" in result.logs
        with pytest.raises(RpcPreflightFailed) as failed:
            await rpc.send_transaction(tx)
        assert failed.value.err == result.err
        assert "Program log: Error: Account is frozen" in failed.value.logs
        # Nothing moved: the holder still has every token and the account stays frozen.
        assert sim.chain.tokens[holder.address].amount == holder.amount


async def test_a_submitted_buy_lands_confirms_and_streams() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url) as rpc, WsClient(sim.ws_url) as ws:
        await ws.logs_subscribe(P.PUMP_PROGRAM)
        await sim.emit(2)  # MOON is created
        moon = sim.generator.tokens["MOON"].mint
        curve = sim.chain.curves[moon]
        user = sim.generator.groups["retail"][0]
        accounts = [
            P.PUMP_GLOBAL, P.PUMP_FEE_RECIPIENTS[0], moon, curve.address, curve.vault,
            K.ata(user, moon, curve.token_program), user, P.SYSTEM_PROGRAM, curve.token_program,
            K.creator_vault(curve.creator), P.PUMP_EVENT_AUTHORITY, P.PUMP_PROGRAM,
            P.PUMP_GLOBAL_VOLUME_ACCUMULATOR, K.user_volume_accumulator(user), P.PUMP_FEE_CONFIG,
            P.PUMP_FEE_PROGRAM,
        ]  # fmt: skip
        metas = [AccountMeta(Pubkey.from_string(k), k == user, True) for k in accounts]
        ix = Instruction(
            Pubkey.from_string(P.PUMP_PROGRAM), enc.ix_pump_buy_exact_sol_in(500_000_000, 1), metas
        )
        blockhash = (await rpc.get_latest_blockhash()).blockhash
        tx = _signed(user, [ix], blockhash)
        assert (await rpc.simulate_transaction(tx)).ok
        before = sim.chain.balance(user, moon)
        sig = await rpc.send_transaction(tx)
        assert sig == str(tx.signatures[0])
        assert await rpc.send_transaction(tx) == sig  # a resend does not buy twice
        [status] = await rpc.get_signature_statuses([sig])
        assert status is not None and status.err is None
        assert sim.chain.balance(user, moon) > before
        async with asyncio.timeout(5):
            while True:
                note = await ws.recv()
                if isinstance(note, LogsNotification) and note.signature == sig:
                    break
        landed = await rpc.get_transaction(sig)
        assert landed is not None and landed["meta"]["err"] is None
        assert sim.emission_time_ns(sig) is not None


async def test_batch_requests_and_sim_control() -> None:
    async with running_sim() as sim, httpx.AsyncClient() as http:
        await sim.emit(1)
        r = await http.post(
            sim.http_url,
            json=[
                {"jsonrpc": "2.0", "id": 1, "method": "getSlot"},
                {"jsonrpc": "2.0", "id": 2, "method": "nope"},
            ],
        )
        replies = r.json()
        assert replies[0]["result"] == sim.current_slot
        assert replies[1]["error"]["code"] == -32601
        r = await http.post(
            sim.http_url,
            json={
                "jsonrpc": "2.0",
                "id": 3,
                "method": "simControl",
                "params": [{"action": "httpErrors", "status": 503, "count": 1}],
            },
        )
        assert r.json()["result"] is True
        assert (
            await http.post(sim.http_url, json={"jsonrpc": "2.0", "id": 4, "method": "getSlot"})
        ).status_code == 503
        r = await http.post(
            sim.http_url,
            json={
                "jsonrpc": "2.0",
                "id": 5,
                "method": "simControl",
                "params": [{"action": "stats"}],
            },
        )
        assert r.json()["result"]["emitted"] == 1


async def test_token_supply_and_largest_accounts() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url) as rpc:
        await sim.emit(10)
        moon = sim.generator.tokens["MOON"].mint
        supply = await rpc.get_token_supply(moon)
        assert (supply.amount, supply.decimals) == (10**15, 6)
        holders = await rpc.get_token_largest_accounts(moon)
        assert holders[0].address == sim.chain.curves[moon].vault  # the curve holds the most
        assert sum(h.amount for h in holders) <= 10**15
        assert holders == sorted(holders, key=lambda h: -h.amount)


async def test_autostart_emits_on_the_clock() -> None:
    async with running_sim(autostart=True, rate=500) as sim:
        async with asyncio.timeout(5):
            await sim.wait_emitted(250)
        assert sim.current_slot > sim.scenario.start_slot
