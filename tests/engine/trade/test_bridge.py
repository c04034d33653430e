"""Pieces of the trade bridge on their own: the signed-transaction check, idempotency keys,
the out amount read from a landed transaction, and the wallet-link challenge."""

from __future__ import annotations

import base64

import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from engine.chain import instructions as ix
from engine.chain import programs as P
from engine.chain.rpc import RpcClient
from engine.services.errors import InvalidInput
from engine.sim.jupiter import LocalJupiter
from engine.trade.bridge import check_idempotency_key, out_amount_of, verify_signed
from engine.trade.jupiter import JupiterClient
from engine.trade.wallet_link import challenge_message, new_challenge, verify_link
from tests.engine.sim.support import running_sim


def _message(wallet: Keypair) -> MessageV0:
    return MessageV0.try_compile(
        wallet.pubkey(), [ix.set_compute_unit_limit(100_000)], [], Hash.new_unique()
    )


def test_verify_signed_accepts_only_the_prepared_message_signed_by_the_wallet() -> None:
    wallet = Keypair()
    msg = _message(wallet)
    prepared = to_bytes_versioned(msg)
    good = base64.b64encode(bytes(VersionedTransaction(msg, [wallet]))).decode()
    assert str(verify_signed(good, message=prepared, wallet=str(wallet.pubkey())).signatures[0])
    other = _message(wallet)
    cases = {
        "transaction_mismatch": base64.b64encode(bytes(VersionedTransaction(other, [wallet]))),
        "bad_signature": base64.b64encode(
            bytes(VersionedTransaction.populate(msg, [Signature.default()]))
        ),
        "bad_transaction": b"bm90IGEgdHJhbnNhY3Rpb24=",
    }
    for code, raw in cases.items():
        with pytest.raises(InvalidInput) as err:
            verify_signed(raw.decode(), message=prepared, wallet=str(wallet.pubkey()))
        assert err.value.code == code
    with pytest.raises(InvalidInput) as err:
        verify_signed(good, message=prepared, wallet=str(Keypair().pubkey()))
    assert err.value.code == "not_signed_by_wallet"


def test_idempotency_keys() -> None:
    assert check_idempotency_key("  abc-1  ") == "abc-1"
    cases = (
        (None, "idempotency_key_required"),
        ("", "idempotency_key_required"),
        ("x" * 101, "bad_idempotency_key"),
        ("é", "bad_idempotency_key"),
    )
    for bad, code in cases:
        with pytest.raises(InvalidInput) as err:
            check_idempotency_key(bad)
        assert err.value.code == code


async def test_out_amount_is_read_from_the_landed_transaction() -> None:
    async with running_sim() as sim:
        await sim.emit(50)
        mint = next(m for m, c in sim.chain.curves.items() if not c.complete)
        wallet = Keypair()
        addr = str(wallet.pubkey())
        sim.chain.fund(addr, 3 * 10**9)
        async with LocalJupiter(sim) as jup, RpcClient(sim.http_url) as rpc:
            client = JupiterClient(jup.url)
            try:
                for side in ("buy", "sell"):
                    amount = 10**8 if side == "buy" else sim.chain.balance(addr, mint)
                    pair = (P.WSOL_MINT, mint) if side == "buy" else (mint, P.WSOL_MINT)
                    q = await client.quote(
                        input_mint=pair[0], output_mint=pair[1], amount=amount, slippage_bps=100
                    )
                    swap = await client.swap(quote=q, user_public_key=addr)
                    tx = VersionedTransaction.from_bytes(swap.transaction)
                    before = sim.chain.lamports_of(addr)
                    sig = await rpc.send_transaction(
                        bytes(VersionedTransaction(tx.message, [wallet]))
                    )
                    landed = await rpc.get_transaction(sig)
                    out = out_amount_of(landed, wallet=addr, side=side, mint=mint)
                    if side == "buy":
                        assert out == q.out_amount == sim.chain.balance(addr, mint)
                    else:
                        fee = landed["meta"]["fee"] if landed and landed["meta"] else 0
                        assert out == sim.chain.lamports_of(addr) - before + fee
                        assert out is not None and out >= q.min_out()
            finally:
                await client.aclose()


def test_wallet_link_challenge() -> None:
    wallet = Keypair()
    c = new_challenge("secret", user_id=7, now_ms=1000)
    assert c.message == challenge_message(c.nonce) and "does not move funds" in c.message
    sig = str(wallet.sign_message(c.message.encode()))
    addr = str(wallet.pubkey())
    assert (
        verify_link("secret", user_id=7, now_ms=2000, address=addr, nonce=c.nonce, signature=sig)
        == addr
    )
    bad = {
        "bad_nonce": dict(user_id=8, now_ms=2000, nonce=c.nonce, signature=sig),
        "nonce_expired": dict(user_id=7, now_ms=c.expires_ts + 1, nonce=c.nonce, signature=sig),
        "bad_signature": dict(user_id=7, now_ms=2000, nonce=c.nonce, signature="xyz"),
    }
    for code, kwargs in bad.items():
        with pytest.raises(InvalidInput) as err:
            verify_link("secret", address=addr, **kwargs)  # type: ignore[arg-type]
        assert err.value.code == code
    with pytest.raises(InvalidInput) as err:
        verify_link("other", user_id=7, now_ms=2000, address=addr, nonce=c.nonce, signature=sig)
    assert err.value.code == "bad_nonce"
    with pytest.raises(InvalidInput) as err:
        verify_link("secret", user_id=7, now_ms=2000, address="nope", nonce=c.nonce, signature=sig)
    assert err.value.code == "not_address"
