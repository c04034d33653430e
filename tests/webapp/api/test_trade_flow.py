"""The trade bridge end to end: prepare -> sign (a solders Keypair as the user's wallet) ->
submit -> confirm, against the chain simulator and the local Jupiter-compatible server."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from nacl.public import Box, PrivateKey, PublicKey
from solders.keypair import Keypair
from solders.message import to_bytes_versioned
from solders.transaction import VersionedTransaction
from sqlalchemy import func, select

from engine.services.accounts import update_user_settings
from engine.sim.server import SimServer
from engine.storage.models import Order, Trade
from engine.trade import phantom
from tests.webapp.api.conftest import (
    Api,
    ApiFactory,
    curve_mint,
    eventually,
    expect_error,
    link_wallet,
    put_risk,
    tma,
)

SOL = 1_000_000_000


def count_sends(sim: SimServer) -> list[dict[str, Any]]:
    """Record every sendTransaction the simulator receives (its config)."""
    calls: list[dict[str, Any]] = []
    handler = sim.methods._handlers["sendTransaction"]

    def counting(params: list[Any]) -> Any:
        calls.append(params[1] if len(params) > 1 else {})
        return handler(params)

    sim.methods._handlers["sendTransaction"] = counting
    return calls


def sign(prepared: dict[str, Any], wallet: Keypair) -> str:
    """What the wallet does: sign the prepared message unchanged."""
    tx = VersionedTransaction.from_bytes(base64.b64decode(prepared["transaction"]))
    return base64.b64encode(bytes(VersionedTransaction(tx.message, [wallet]))).decode()


async def rows(api: Api) -> tuple[int, int]:
    async with api.deps.sessions() as session:
        orders = (await session.execute(select(func.count()).select_from(Order))).scalar_one()
        trades = (await session.execute(select(func.count()).select_from(Trade))).scalar_one()
    return int(orders), int(trades)


@pytest.fixture
async def chain_api(make_api: ApiFactory) -> Any:
    async with make_api(with_chain=True, jupiter_timeout_s=0.5) as api:
        yield api


async def ready_user(api: Api, telegram_id: int = 50) -> tuple[dict[str, str], Keypair, str]:
    assert api.sim is not None
    wallet = Keypair()
    api.sim.chain.fund(str(wallet.pubkey()), 5 * SOL)
    headers = tma(telegram_id)
    await link_wallet(api, wallet, headers)
    mint = curve_mint(api.sim)
    await put_risk(api.deps, mint)
    return headers, wallet, mint


@pytest.mark.timeout(60)
async def test_buy_then_sell_confirms_once_per_key(chain_api: Api) -> None:
    api = chain_api
    assert api.sim is not None
    headers, wallet, mint = await ready_user(api)
    sends = count_sends(api.sim)

    q = await api.client.post(
        "/trade/quote", headers=headers, json={"mint": mint, "side": "buy", "amount": SOL // 10}
    )
    assert q.status_code == 200, q.text
    quote = q.json()
    assert quote["out_amount"] > quote["min_out_amount"] > 0 and quote["risk"]["known"]
    assert quote["route"][0]["label"] == "Pump.fun"

    r = await api.client.post(
        "/trade/prepare",
        headers=headers,
        json={"mint": mint, "side": "buy", "amount": SOL // 10, "priority_fee_lamports": 20_000},
    )
    assert r.status_code == 201, r.text
    prepared = r.json()
    assert prepared["wallet"] == str(wallet.pubkey())
    assert prepared["min_out_amount"] == prepared["out_amount"] * 99 // 100
    assert prepared["priority_fee_lamports"] > 0 and prepared["last_valid_block_height"] > 0
    unsigned = VersionedTransaction.from_bytes(base64.b64decode(prepared["transaction"]))
    assert str(unsigned.message.account_keys[0]) == str(wallet.pubkey())

    body = {"prepared_id": prepared["prepared_id"], "signed_transaction": sign(prepared, wallet)}
    key = {"Idempotency-Key": "buy-1"}
    first = await api.client.post("/trade/submit", headers={**headers, **key}, json=body)
    assert first.status_code == 200, first.text
    again = await api.client.post("/trade/submit", headers={**headers, **key}, json=body)
    assert again.status_code == 200
    t1, t2 = first.json(), again.json()
    assert t1["status"] in ("submitted", "confirmed") and t1["signature"]
    assert {k: t1[k] for k in ("id", "signature", "in_amount", "min_out_amount")} == {
        k: t2[k] for k in ("id", "signature", "in_amount", "min_out_amount")
    }
    assert len(sends) == 1 and sends[0]["skipPreflight"] is False

    async def confirmed() -> bool:
        got = (await api.client.get(f"/trade/{t1['id']}", headers=headers)).json()
        return bool(got["status"] == "confirmed")

    await eventually(confirmed)
    trade = (await api.client.get(f"/trade/{t1['id']}", headers=headers)).json()
    held = api.sim.chain.balance(str(wallet.pubkey()), mint)
    assert trade["out_amount"] == held == prepared["out_amount"]
    assert api.sim.ledger.get(trade["signature"]) is not None
    # A retry after confirmation: the same trade, still one send, one row.
    third = await api.client.post("/trade/submit", headers={**headers, **key}, json=body)
    assert third.json() == trade
    assert len(sends) == 1 and await rows(api) == (1, 1)
    # The same intent under another key is refused: one intent executes at most once.
    expect_error(
        await api.client.post(
            "/trade/submit", headers={**headers, "Idempotency-Key": "buy-2"}, json=body
        ),
        409,
        "already_submitted",
    )
    listed = (await api.client.get("/trades", headers=headers)).json()
    assert [t["id"] for t in listed] == [t1["id"]]
    expect_error(await api.client.get(f"/trade/{t1['id']}", headers=tma(51)), 404, "no_trade")

    # Sell it all back; sells skip the risk gate and get SOL out.
    r = await api.client.post(
        "/trade/prepare", headers=headers, json={"mint": mint, "side": "sell", "amount": held}
    )
    assert r.status_code == 201, r.text
    sell = r.json()
    sold = await api.client.post(
        "/trade/submit",
        headers={**headers, "Idempotency-Key": "sell-1"},
        json={"prepared_id": sell["prepared_id"], "signed_transaction": sign(sell, wallet)},
    )
    assert sold.status_code == 200, sold.text

    async def sold_ok() -> bool:
        got = (await api.client.get(f"/trade/{sold.json()['id']}", headers=headers)).json()
        return bool(got["status"] == "confirmed")

    await eventually(sold_ok)
    final = (await api.client.get(f"/trade/{sold.json()['id']}", headers=headers)).json()
    assert api.sim.chain.balance(str(wallet.pubkey()), mint) == 0
    assert final["out_amount"] >= sell["min_out_amount"] > 0


async def test_risk_gate_refuses_with_the_reason(chain_api: Api) -> None:
    api = chain_api
    assert api.sim is not None
    headers, _, mint = await ready_user(api, 52)
    other = next(m for m in api.sim.chain.curves if m != mint)
    order = {"mint": other, "side": "buy", "amount": SOL // 10}
    body = expect_error(
        await api.client.post("/trade/prepare", headers=headers, json=order), 422, "risk_unknown"
    )
    assert "risk" in body["error"]["message"]
    await put_risk(api.deps, other, freeze="F" * 32)
    body = expect_error(
        await api.client.post("/trade/prepare", headers=headers, json=order), 422, "risk_blocked"
    )
    assert "freeze_authority" in body["error"]["message"]
    # Selling is always allowed, whatever the verdict.
    r = await api.client.post(
        "/trade/prepare", headers=headers, json={**order, "side": "sell", "amount": 1000}
    )
    assert r.status_code == 201, r.text
    assert await rows(api) == (1, 0)


async def test_policy_refusals(make_api: ApiFactory) -> None:
    async with make_api(
        with_chain=True,
        trade_max_lamports=SOL,
        trade_confirm_above_lamports=SOL // 2,
        trade_max_slippage_bps=500,
    ) as api:
        headers, _, mint = await ready_user(api, 53)
        base = {"mint": mint, "side": "buy"}
        cases = [
            ({**base, "amount": 2 * SOL, "confirm": True}, "over_trade_max"),
            ({**base, "amount": SOL - 1}, "confirmation_required"),
            ({**base, "amount": SOL // 10, "slippage_bps": 900}, "slippage_too_high"),
            ({**base, "amount": 1000}, "amount_too_small"),
        ]
        for order, code in cases:
            expect_error(
                await api.client.post("/trade/prepare", headers=headers, json=order), 422, code
            )
        r = await api.client.post(
            "/trade/prepare", headers=headers, json={**base, "amount": SOL - 1, "confirm": True}
        )
        assert r.status_code == 201, r.text
        # A user's own limits can only lower the deployment's; malformed ones are ignored.
        me = (await api.client.get("/me", headers=headers)).json()
        async with api.deps.sessions.begin() as session:
            await update_user_settings(
                session,
                user_id=me["id"],
                values={
                    "max_trade_lamports": SOL // 10,
                    "max_slippage_bps": "lots",
                    "blocklist": [],
                },
            )
        expect_error(
            await api.client.post(
                "/trade/prepare", headers=headers, json={**base, "amount": SOL // 5}
            ),
            422,
            "over_trade_max",
        )
        async with api.deps.sessions.begin() as session:
            await update_user_settings(session, user_id=me["id"], values={"blocklist": [mint]})
        expect_error(
            await api.client.post(
                "/trade/prepare", headers=headers, json={**base, "amount": SOL // 20}
            ),
            422,
            "token_blocked",
        )
        expect_error(
            await api.client.post(
                "/trade/prepare", headers=tma(54), json={**base, "amount": SOL // 10}
            ),
            422,
            "no_wallet",
        )


async def test_jupiter_timeout_and_5xx_record_nothing(chain_api: Api) -> None:
    api = chain_api
    assert api.jupiter is not None
    headers, _, mint = await ready_user(api, 55)
    order = {"mint": mint, "side": "buy", "amount": SOL // 10}
    api.jupiter.delay_s = 1.0
    body = expect_error(
        await api.client.post("/trade/prepare", headers=headers, json=order), 504, "jupiter_timeout"
    )
    assert "timed out" in body["error"]["message"]
    api.jupiter.delay_s = 0.0
    api.jupiter.fail_next(503)
    expect_error(
        await api.client.post("/trade/prepare", headers=headers, json=order),
        502,
        "jupiter_unavailable",
    )
    # The quote succeeds but building the swap fails: still no half trade.
    api.jupiter.fail_next(503)  # consumed by /quote
    expect_error(
        await api.client.post("/trade/quote", headers=headers, json=order),
        502,
        "jupiter_unavailable",
    )
    api.jupiter.malformed_next("no_field")
    expect_error(
        await api.client.post("/trade/quote", headers=headers, json=order), 502, "jupiter_malformed"
    )
    assert await rows(api) == (0, 0)


async def test_submit_checks_what_was_signed(chain_api: Api) -> None:
    api = chain_api
    assert api.sim is not None
    headers, wallet, mint = await ready_user(api, 56)
    sends = count_sends(api.sim)

    async def prepare(amount: int) -> dict[str, Any]:
        r = await api.client.post(
            "/trade/prepare", headers=headers, json={"mint": mint, "side": "buy", "amount": amount}
        )
        assert r.status_code == 201, r.text
        return dict(r.json())

    a, b = await prepare(SOL // 10), await prepare(SOL // 20)

    async def submit(prepared_id: str, signed: str, key: str | None = "k") -> Any:
        extra = {"Idempotency-Key": key} if key else {}
        return await api.client.post(
            "/trade/submit",
            headers={**headers, **extra},
            json={"prepared_id": prepared_id, "signed_transaction": signed},
        )

    expect_error(
        await submit(a["prepared_id"], sign(a, wallet), None), 400, "idempotency_key_required"
    )
    expect_error(await submit(a["prepared_id"], sign(b, wallet)), 400, "transaction_mismatch")
    expect_error(await submit(a["prepared_id"], a["transaction"]), 400, "bad_signature")
    msg = VersionedTransaction.from_bytes(base64.b64decode(a["transaction"])).message
    forged = VersionedTransaction.populate(msg, [Keypair().sign_message(to_bytes_versioned(msg))])
    expect_error(
        await submit(a["prepared_id"], base64.b64encode(bytes(forged)).decode()),
        400,
        "bad_signature",
    )
    expect_error(await submit(a["prepared_id"], "not base64!"), 400, "bad_transaction")
    expect_error(await submit("0" * 32, sign(a, wallet)), 404, "no_prepared_trade")
    # Someone else cannot submit this user's prepared trade.
    other = await api.client.post(
        "/trade/submit",
        headers={**tma(57), "Idempotency-Key": "k"},
        json={"prepared_id": a["prepared_id"], "signed_transaction": sign(a, wallet)},
    )
    expect_error(other, 404, "no_prepared_trade")
    assert sends == [] and await rows(api) == (2, 0)
    ok = await submit(a["prepared_id"], sign(a, wallet), "key-a")
    assert ok.status_code == 200, ok.text
    expect_error(
        await submit(b["prepared_id"], sign(b, wallet), "key-a"), 409, "idempotency_key_reused"
    )
    api.clock.advance(api.deps.settings.trade_prepare_ttl_s * 1000 + 1)
    expect_error(await submit(b["prepared_id"], sign(b, wallet), "key-b"), 410, "prepared_expired")
    assert len(sends) == 1


async def test_failed_simulation_is_recorded_once(chain_api: Api) -> None:
    api = chain_api
    assert api.sim is not None
    headers, wallet, mint = await ready_user(api, 58)
    sends = count_sends(api.sim)
    r = await api.client.post(
        "/trade/prepare", headers=headers, json={"mint": mint, "side": "sell", "amount": 10**9}
    )
    assert r.status_code == 201, r.text
    prepared = r.json()
    body = {"prepared_id": prepared["prepared_id"], "signed_transaction": sign(prepared, wallet)}
    h = {**headers, "Idempotency-Key": "sell-nothing"}
    first = await api.client.post("/trade/submit", headers=h, json=body)
    assert first.status_code == 200, first.text
    trade = first.json()
    assert trade["status"] == "failed" and "simulation failed" in trade["error"]
    assert (await api.client.post("/trade/submit", headers=h, json=body)).json() == trade
    assert len(sends) == 1


async def test_wallet_link_needs_a_valid_signature(chain_api: Api) -> None:
    api = chain_api
    headers = tma(60)
    c = (await api.client.post("/me/wallet/challenge", headers=headers)).json()
    wallet, intruder = Keypair(), Keypair()
    link = {"address": str(wallet.pubkey()), "nonce": c["nonce"]}
    bad = str(intruder.sign_message(c["message"].encode()))
    expect_error(
        await api.client.post("/me/wallet", headers=headers, json={**link, "signature": bad}),
        400,
        "bad_signature",
    )
    good = str(wallet.sign_message(c["message"].encode()))
    expect_error(
        await api.client.post("/me/wallet", headers=tma(61), json={**link, "signature": good}),
        400,
        "bad_nonce",
    )
    expect_error(
        await api.client.post(
            "/me/wallet",
            headers=headers,
            json={**link, "nonce": c["nonce"] + "0", "signature": good},
        ),
        400,
        "bad_nonce",
    )
    api.clock.advance(11 * 60_000)
    expect_error(
        await api.client.post("/me/wallet", headers=tma(60), json={**link, "signature": good}),
        400,
        "nonce_expired",
    )
    await link_wallet(api, wallet, tma(60))
    assert (await api.client.delete("/me/wallet", headers=tma(60))).status_code == 204
    assert (await api.client.get("/me", headers=tma(60))).json()["wallet"] is None


async def test_phantom_deeplink_round_trip_through_the_api(chain_api: Api) -> None:
    """PyNaCl plays Phantom: connect, then sign the prepared transaction, then submit it."""
    api = chain_api
    headers, wallet, mint = await ready_user(api, 62)
    r = await api.client.post(
        "/trade/phantom/connect",
        headers=headers,
        json={"redirect_link": "https://t.me/solai_bot/app?startapp=phantom"},
    )
    assert r.status_code == 200, r.text
    started = r.json()
    query = dict(phantom.parse_link(started["url"]))
    assert started["url"].startswith("https://phantom.app/ul/v1/connect?")
    dapp_pk = PublicKey(phantom.unb58(query["dapp_encryption_public_key"], what="k"))
    # Phantom's side.
    phantom_sk = PrivateKey.generate()
    to_dapp = Box(phantom_sk, dapp_pk)
    session = "phantom-session-token"
    nonce = bytes(24)
    data = to_dapp.encrypt(
        json.dumps({"public_key": str(wallet.pubkey()), "session": session}).encode(), nonce
    ).ciphertext
    r = await api.client.post(
        "/trade/phantom/connected",
        headers=headers,
        json={
            "state": started["state"],
            "phantom_encryption_public_key": phantom.b58(bytes(phantom_sk.public_key)),
            "nonce": phantom.b58(nonce),
            "data": phantom.b58(data),
        },
    )
    assert r.status_code == 200, r.text
    connected = r.json()
    assert connected["public_key"] == str(wallet.pubkey()) and connected["session"] == session

    prepared = (
        await api.client.post(
            "/trade/prepare",
            headers=headers,
            json={"mint": mint, "side": "buy", "amount": SOL // 10},
        )
    ).json()
    r = await api.client.post(
        "/trade/phantom/sign",
        headers=headers,
        json={
            "state": connected["state"],
            "session": session,
            "transaction": prepared["transaction"],
            "redirect_link": "https://t.me/solai_bot/app?startapp=signed",
        },
    )
    assert r.status_code == 200, r.text
    q = dict(phantom.parse_link(r.json()["url"]))
    payload = json.loads(
        to_dapp.decrypt(phantom.unb58(q["payload"], what="p"), phantom.unb58(q["nonce"], what="n"))
    )
    assert payload["session"] == session
    tx = VersionedTransaction.from_bytes(phantom.unb58(payload["transaction"], what="t"))
    signed = bytes(VersionedTransaction(tx.message, [wallet]))
    reply_nonce = bytes(range(24))
    reply = to_dapp.encrypt(
        json.dumps({"transaction": phantom.b58(signed)}).encode(), reply_nonce
    ).ciphertext
    r = await api.client.post(
        "/trade/phantom/signed",
        headers=headers,
        json={
            "state": connected["state"],
            "nonce": phantom.b58(reply_nonce),
            "data": phantom.b58(reply),
        },
    )
    assert r.status_code == 200, r.text
    submitted = await api.client.post(
        "/trade/submit",
        headers={**headers, "Idempotency-Key": "phantom-1"},
        json={
            "prepared_id": prepared["prepared_id"],
            "signed_transaction": r.json()["signed_transaction"],
        },
    )
    assert submitted.status_code == 200 and submitted.json()["status"] in ("submitted", "confirmed")
    # A rejection, a forged state and a tampered ciphertext are clear 400s.
    expect_error(
        await api.client.post(
            "/trade/phantom/signed",
            headers=headers,
            json={
                "state": connected["state"],
                "nonce": phantom.b58(reply_nonce),
                "data": phantom.b58(reply[:-1] + b"x"),
            },
        ),
        400,
        "phantom_error",
    )
    expect_error(
        await api.client.post(
            "/trade/phantom/signed",
            headers=headers,
            json={"state": "AAAA" + connected["state"][4:], "nonce": "1", "data": "1"},
        ),
        400,
        "phantom_error",
    )


async def test_a_trade_stuck_in_submitted_is_settled_by_the_safety_net(chain_api: Api) -> None:
    # A confirmed buy whose row says "submitted" again, as when its confirm job ran out of tries
    # or was lost with the queue: the per-minute sweep gives it a new job, which settles it.
    from sqlalchemy import update

    from engine.trade.bridge import STUCK_AFTER_MS, resume_stuck_trades

    api = chain_api
    headers, wallet, mint = await ready_user(api)
    r = await api.client.post(
        "/trade/prepare", headers=headers, json={"mint": mint, "side": "buy", "amount": SOL // 10}
    )
    prepared = r.json()
    body = {"prepared_id": prepared["prepared_id"], "signed_transaction": sign(prepared, wallet)}
    t = await api.client.post(
        "/trade/submit", headers={**headers, "Idempotency-Key": "stuck-1"}, json=body
    )
    trade_id = t.json()["id"]

    async def status() -> str:
        return str((await api.client.get(f"/trade/{trade_id}", headers=headers)).json()["status"])

    async def is_confirmed() -> bool:
        return await status() == "confirmed"

    await eventually(is_confirmed)
    now = api.clock.now_ms()
    async with api.deps.sessions.begin() as s:
        await s.execute(
            update(Trade)
            .where(Trade.id == trade_id)
            .values(status="submitted", out_amount=None, updated_ts=now - 10_000)
        )
        await s.execute(update(Order).values(status="submitted"))
    # Recent: left to its own confirm job.
    assert await resume_stuck_trades(api.deps, now_ms=now) == []
    assert await resume_stuck_trades(api.deps, now_ms=now + STUCK_AFTER_MS) == [trade_id]
    await eventually(is_confirmed)
    trade = (await api.client.get(f"/trade/{trade_id}", headers=headers)).json()
    assert trade["out_amount"] == prepared["out_amount"]
