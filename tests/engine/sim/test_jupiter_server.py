"""The local Jupiter-compatible server: Jupiter's JSON shapes (checked against the published
OpenAPI), quotes equal to what the simulator then executes, the real instruction layouts."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema_rs
import pytest
from solders.keypair import Keypair
from solders.transaction import VersionedTransaction

from engine.chain import instructions as ix
from engine.chain import programs as P
from engine.chain.rpc import RpcClient
from engine.sim.jupiter import LocalJupiter
from engine.sim.server import SimServer
from tests.conftest import fixtures_dir
from tests.engine.sim.support import running_sim

SOL = 1_000_000_000


def _spec() -> dict[str, Any]:
    path = fixtures_dir("jupiter_api", "swagger_swap-v1_api.jup.ag_2025-12-28.json")
    return dict(json.loads(path.read_text()))


def _validate(body: Any, schema_name: str) -> None:
    spec = _spec()
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    # jsonschema_rs comes with schemathesis (a dev dependency); OpenAPI 3.0 schemas are draft 4.
    jsonschema_rs.Draft4Validator(schema).validate(body)


@pytest.fixture
async def market() -> AsyncIterator[tuple[SimServer, LocalJupiter, httpx.AsyncClient]]:
    async with running_sim() as sim:
        await sim.emit(50)
        async with LocalJupiter(sim, api_key="k-123") as jup:
            async with httpx.AsyncClient(base_url=jup.url, headers={"x-api-key": "k-123"}) as http:
                yield sim, jup, http


async def _swap_and_send(
    sim: SimServer, http: httpx.AsyncClient, wallet: Keypair, quote: dict[str, Any]
) -> str:
    r = await http.post(
        "/swap",
        json={
            "userPublicKey": str(wallet.pubkey()),
            "quoteResponse": quote,
            "dynamicComputeUnitLimit": True,
            "prioritizationFeeLamports": {
                "priorityLevelWithMaxLamports": {"priorityLevel": "high", "maxLamports": 30_000}
            },
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    _validate(body, "SwapResponse")
    assert body["prioritizationFeeLamports"] <= 30_000
    tx = VersionedTransaction.from_bytes(base64.b64decode(body["swapTransaction"]))
    assert str(tx.message.account_keys[0]) == str(wallet.pubkey())
    assert tx.message.header.num_required_signatures == 1
    signed = VersionedTransaction(tx.message, [wallet])
    async with RpcClient(sim.http_url) as rpc:
        return await rpc.send_transaction(bytes(signed))


async def test_curve_buy_and_sell_execute_as_quoted(market: Any) -> None:
    sim, jup, http = market
    mint = next(m for m, c in sim.chain.curves.items() if not c.complete)
    wallet = Keypair()
    sim.chain.fund(str(wallet.pubkey()), 2 * SOL)
    r = await http.get(
        "/quote",
        params={
            "inputMint": P.WSOL_MINT,
            "outputMint": mint,
            "amount": "100000000",
            "slippageBps": "150",
        },
    )
    assert r.status_code == 200, r.text
    quote = r.json()
    _validate(quote, "QuoteResponse")
    assert quote["routePlan"][0]["swapInfo"]["label"] == "Pump.fun"
    assert int(quote["otherAmountThreshold"]) == int(quote["outAmount"]) * 9850 // 10_000
    assert 0 < float(quote["priceImpactPct"]) < 1
    sig = await _swap_and_send(sim, http, wallet, quote)
    assert sim.ledger.get(sig) is not None
    held = sim.chain.balance(str(wallet.pubkey()), mint)
    assert held == int(quote["outAmount"])
    r = await http.get(
        "/quote", params={"inputMint": mint, "outputMint": P.WSOL_MINT, "amount": str(held)}
    )
    sell = r.json()
    assert sell["slippageBps"] == 50  # the API's default
    before = sim.chain.lamports_of(str(wallet.pubkey()))
    await _swap_and_send(sim, http, wallet, sell)
    assert sim.chain.balance(str(wallet.pubkey()), mint) == 0
    assert sim.chain.lamports_of(str(wallet.pubkey())) > before
    assert jup.stats == {"quote": 2, "swap": 2}


async def test_pumpswap_pool_buy_and_sell(market: Any) -> None:
    sim, _, http = market
    mint = next(iter(sim.chain.pools))
    wallet = Keypair()
    sim.chain.fund(str(wallet.pubkey()), 2 * SOL)
    quote = (
        await http.get(
            "/quote", params={"inputMint": P.WSOL_MINT, "outputMint": mint, "amount": "50000000"}
        )
    ).json()
    assert quote["routePlan"][0]["swapInfo"]["label"] == "Pump.fun Amm"
    assert quote["routePlan"][0]["swapInfo"]["ammKey"] == sim.chain.pools[mint].address
    await _swap_and_send(sim, http, wallet, quote)
    held = sim.chain.balance(str(wallet.pubkey()), mint)
    assert held == int(quote["outAmount"])
    sell = (
        await http.get(
            "/quote", params={"inputMint": mint, "outputMint": P.WSOL_MINT, "amount": str(held)}
        )
    ).json()
    await _swap_and_send(sim, http, wallet, sell)
    assert sim.chain.balance(str(wallet.pubkey()), mint) == 0


async def test_errors_have_jupiters_shape(market: Any) -> None:
    sim, jup, http = market
    mint = next(iter(sim.chain.curves))
    r = await http.get(
        "/quote",
        params={
            "inputMint": "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
            "amount": "35281.123",
            "outputMint": P.WSOL_MINT,
        },
    )
    assert r.status_code == 400
    snapshot = json.loads(
        fixtures_dir("jupiter_api", "examples_from_docs_and_tests.json").read_text()
    )
    expected = next(e for e in snapshot["examples"] if "35281.123" in e.get("request", ""))
    assert r.json()["error"] == expected["response"]["error"]
    r = await http.get(
        "/quote", params={"inputMint": P.WSOL_MINT, "outputMint": P.WSOL_MINT, "amount": "5"}
    )
    assert r.status_code == 400 and r.json()["errorCode"] == "NO_ROUTES_FOUND"
    unknown = str(Keypair().pubkey())
    r = await http.get(
        "/quote", params={"inputMint": P.WSOL_MINT, "outputMint": unknown, "amount": "5"}
    )
    assert r.json()["errorCode"] == "TOKEN_NOT_TRADABLE"
    r = await http.get(
        "/quote",
        params={
            "inputMint": P.WSOL_MINT,
            "outputMint": mint,
            "amount": "5",
            "swapMode": "ExactOut",
        },
    )
    assert r.status_code == 400
    r = await http.post("/swap", json={"userPublicKey": str(unknown), "quoteResponse": {"x": 1}})
    assert r.status_code == 400 and "quoteResponse" in r.json()["error"]
    r = await http.post("/swap", content=b"{not json")
    assert r.status_code == 400
    async with httpx.AsyncClient(base_url=jup.url) as anonymous:
        r = await anonymous.get(
            "/quote", params={"inputMint": P.WSOL_MINT, "outputMint": mint, "amount": "5"}
        )
        assert r.status_code == 401


def test_pumpswap_builders_follow_the_idl_and_the_simulator() -> None:
    idl = json.loads(fixtures_dir("idl", "pump_amm_pAMMBay_official_2026-05.json").read_text())
    by_name = {i["name"]: i for i in idl["instructions"]}
    pool = ix.PumpSwapPool(
        address=str(Keypair().pubkey()),
        base_mint=str(Keypair().pubkey()),
        quote_mint=P.WSOL_MINT,
        base_vault=str(Keypair().pubkey()),
        quote_vault=str(Keypair().pubkey()),
        coin_creator=str(Keypair().pubkey()),
    )
    user = str(Keypair().pubkey())
    built = {
        "buy": ix.pumpswap_buy(user=user, pool=pool, base_amount_out=5, max_quote_amount_in=7),
        "buy_exact_quote_in": ix.pumpswap_buy_exact_quote_in(
            user=user, pool=pool, spendable_quote_in=7, min_base_amount_out=5
        ),
        "sell": ix.pumpswap_sell(user=user, pool=pool, base_amount_in=5, min_quote_amount_out=7),
    }
    for name, instruction in built.items():
        spec = by_name[name]
        assert bytes(instruction.data[:8]) == bytes(spec["discriminator"])
        assert len(instruction.accounts) == len(spec["accounts"]), name
        for meta, acc in zip(instruction.accounts, spec["accounts"], strict=True):
            assert meta.is_writable == bool(acc.get("writable")), (name, acc["name"])
            assert meta.is_signer == bool(acc.get("signer")), (name, acc["name"])
            if "address" in acc:
                assert str(meta.pubkey) == acc["address"], (name, acc["name"])
        # What the simulator reads: user at 1, base mint at 3.
        assert str(instruction.accounts[1].pubkey) == user
        assert str(instruction.accounts[3].pubkey) == pool.base_mint
    pump = json.loads(fixtures_dir("idl", "pump_6EF8_official_2026-05.json").read_text())
    exact = next(i for i in pump["instructions"] if i["name"] == "buy_exact_sol_in")
    made = ix.pump_buy_exact_sol_in(
        user=user,
        mint=pool.base_mint,
        creator=pool.coin_creator,
        spendable_sol_in=9,
        min_tokens_out=3,
    )
    assert bytes(made.data[:8]) == bytes(exact["discriminator"])
    assert len(made.accounts) == len(exact["accounts"])
    assert int.from_bytes(bytes(made.data[8:16]), "little") == 9


async def test_pool_instruction_accounts_match_what_the_simulator_builds() -> None:
    async with running_sim() as sim:
        await sim.emit(50)
        state = next(iter(sim.chain.pools.values()))
        user = str(Keypair().pubkey())
        for buy in (True, False):
            sim_accounts, _ = sim.chain._pool_accounts(state, user, "A" * 32, "B" * 32, buy=buy)
            keys = ix.PumpSwapPool(
                address=state.address,
                base_mint=state.base_mint,
                quote_mint=state.quote_mint,
                base_vault=state.base_vault,
                quote_vault=state.quote_vault,
                coin_creator=state.coin_creator,
                base_token_program=state.base_program,
            )
            made = (
                ix.pumpswap_buy(user=user, pool=keys, base_amount_out=1, max_quote_amount_in=1)
                if buy
                else ix.pumpswap_sell(
                    user=user, pool=keys, base_amount_in=1, min_quote_amount_out=1
                )
            )
            ours = [str(m.pubkey) for m in made.accounts]
            # The simulator's user token accounts are placeholders here; the rest must agree.
            assert [a for i, a in enumerate(ours) if i not in (5, 6)] == [
                a for i, a in enumerate(sim_accounts) if i not in (5, 6)
            ]
