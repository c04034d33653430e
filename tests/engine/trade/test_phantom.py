"""Phantom deeplinks, dapp side: the box primitive against tweetnacl vectors, the worked example,
and a full round trip with PyNaCl playing Phantom."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from nacl.bindings import crypto_box_beforenm
from nacl.public import Box, PrivateKey, PublicKey
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from engine.chain import instructions as ix
from engine.trade import phantom
from tests.conftest import fixtures_dir


def _load(name: str) -> dict[str, Any]:
    return dict(json.loads(fixtures_dir("phantom", name).read_text()))


def test_tweetnacl_box_vectors() -> None:
    data = _load("nacl_box_vectors_tweetnacl.json")
    for v in data["vectors"]:
        pk = base64.b64decode(v["public_key_b64"])
        sk = base64.b64decode(v["secret_key_b64"])
        box = Box(PrivateKey(sk), PublicKey(pk))
        assert box.shared_key() == crypto_box_beforenm(pk, sk)
        assert box.shared_key().hex() == v["shared_key_before_hex"]
        nonce = base64.b64decode(v["nonce_b64"])
        message = base64.b64decode(v["message_b64"])
        sealed = box.encrypt(message, nonce).ciphertext
        assert sealed == base64.b64decode(v["box_b64"])
        assert box.decrypt(sealed, nonce) == message


def test_worked_example_decrypts_on_the_dapp_side() -> None:
    d = _load("phantom_deeplink_worked_example_SYNTHETIC.json")
    secret = PrivateKey(phantom.unb58(d["dapp_x25519_secret_key_b58"], what="sk"))
    assert phantom.public_key_b58(secret) == d["dapp_encryption_public_key"]
    url = phantom.connect_url(
        app_url="https://solai.example",
        dapp_public_key=d["dapp_encryption_public_key"],
        redirect_link="https://solai.example/phantom/connected",
    )
    assert url == d["1_connect_request_url"]
    connected = phantom.read_connect_callback(secret, d["2_connect_redirect_query"])
    assert connected.public_key == d["user_wallet_public_key"]
    assert connected.session == d["2_connect_data_decrypted"]["session"]
    box = phantom.shared_box(secret, connected.phantom_encryption_public_key)
    assert box.shared_key().hex() == d["shared_secret_hex (nacl.box.before)"]
    request = d["3_signTransaction_request_query"]
    payload = phantom.decrypt_payload(box, nonce_b58=request["nonce"], data_b58=request["payload"])
    assert payload == d["3_signTransaction_payload_decrypted"]
    signed = phantom.read_sign_callback(box, d["4_signTransaction_redirect_query"])
    assert phantom.b58(signed) == d["4_signTransaction_data_decrypted"]["transaction"]
    tx = VersionedTransaction.from_bytes(signed)
    expected = next(v for k, v in d.items() if k.startswith("4_expected_signature"))
    assert str(tx.signatures[0]) == expected
    assert all(tx.verify_with_results())
    # Negative checks of the example: another key, a flipped byte.
    with pytest.raises(phantom.PhantomError):
        phantom.read_connect_callback(PrivateKey.generate(), d["2_connect_redirect_query"])
    q = dict(d["4_signTransaction_redirect_query"])
    raw = bytearray(phantom.unb58(q["data"], what="data"))
    raw[5] ^= 1
    with pytest.raises(phantom.PhantomError, match="does not decrypt"):
        phantom.read_sign_callback(box, {**q, "data": phantom.b58(bytes(raw))})


def _unsigned_tx(wallet: Keypair) -> bytes:
    msg = MessageV0.try_compile(
        wallet.pubkey(), [ix.set_compute_unit_limit(200_000)], [], Hash.new_unique()
    )
    return bytes(VersionedTransaction.populate(msg, [Signature.default()]))


def test_round_trip_with_pynacl_as_phantom() -> None:
    wallet = Keypair()
    dapp = phantom.new_dapp_keypair()
    url = phantom.connect_url(
        app_url="https://solai.example",
        dapp_public_key=phantom.public_key_b58(dapp),
        redirect_link="https://t.me/solai_bot/app",
        cluster="devnet",
    )
    q = phantom.parse_link(url)
    assert q["cluster"] == "devnet" and q["redirect_link"] == "https://t.me/solai_bot/app"
    # Phantom: its own keypair, the shared secret with the dapp's key, an encrypted answer.
    ph_secret = PrivateKey.generate()
    ph_box = Box(ph_secret, PublicKey(phantom.unb58(q["dapp_encryption_public_key"], what="k")))
    nonce = b"\x07" * 24
    answer = {
        "phantom_encryption_public_key": phantom.b58(bytes(ph_secret.public_key)),
        "nonce": phantom.b58(nonce),
        "data": phantom.b58(
            ph_box.encrypt(
                json.dumps({"public_key": str(wallet.pubkey()), "session": "s3ss"}).encode(), nonce
            ).ciphertext
        ),
    }
    connected = phantom.read_connect_callback(dapp, answer)
    assert (connected.public_key, connected.session) == (str(wallet.pubkey()), "s3ss")
    box = phantom.shared_box(dapp, connected.phantom_encryption_public_key)
    assert box.shared_key() == ph_box.shared_key()
    unsigned = _unsigned_tx(wallet)
    sign_url = phantom.sign_transaction_url(
        box,
        dapp_public_key=phantom.public_key_b58(dapp),
        session=connected.session,
        transaction=unsigned,
        redirect_link="https://t.me/solai_bot/app?startapp=signed",
    )
    assert sign_url.startswith("https://phantom.app/ul/v1/signTransaction?")
    sq = phantom.parse_link(sign_url)
    request = json.loads(
        ph_box.decrypt(phantom.unb58(sq["payload"], what="p"), phantom.unb58(sq["nonce"], what="n"))
    )
    assert request["session"] == "s3ss"
    tx = VersionedTransaction.from_bytes(phantom.unb58(request["transaction"], what="t"))
    assert bytes(tx) == unsigned
    signed = bytes(VersionedTransaction(tx.message, [wallet]))
    reply_nonce = b"\x09" * 24
    reply = {
        "nonce": phantom.b58(reply_nonce),
        "data": phantom.b58(
            ph_box.encrypt(
                json.dumps({"transaction": phantom.b58(signed)}).encode(), reply_nonce
            ).ciphertext
        ),
    }
    back = VersionedTransaction.from_bytes(phantom.read_sign_callback(box, reply))
    assert to_bytes_versioned(back.message) == to_bytes_versioned(tx.message)
    assert all(back.verify_with_results())
    # Each request gets a fresh nonce: the same payload never encrypts the same way twice.
    again = phantom.parse_link(
        phantom.sign_transaction_url(
            box,
            dapp_public_key=phantom.public_key_b58(dapp),
            session="s3ss",
            transaction=unsigned,
            redirect_link="x",
        )
    )
    assert again["nonce"] != sq["nonce"]


def test_rejections_and_bad_callbacks_raise() -> None:
    dapp = phantom.new_dapp_keypair()
    with pytest.raises(phantom.PhantomRejected) as err:
        phantom.read_connect_callback(
            dapp, {"errorCode": "4001", "errorMessage": "User rejected the request."}
        )
    assert err.value.error_code == "4001"
    with pytest.raises(phantom.PhantomError, match="lacks nonce"):
        phantom.read_connect_callback(dapp, {"phantom_encryption_public_key": "x", "data": "y"})
    with pytest.raises(phantom.PhantomError, match="base58"):
        phantom.shared_box(dapp, "0OIl")
    box = phantom.shared_box(dapp, phantom.public_key_b58(PrivateKey.generate()))
    nonce, data = phantom.encrypt_payload(box, {"transaction": 5})
    with pytest.raises(phantom.PhantomError, match="lacks transaction"):
        phantom.read_sign_callback(box, {"nonce": nonce, "data": data})
    with pytest.raises(phantom.PhantomError, match="24 bytes"):
        phantom.decrypt_payload(box, nonce_b58=phantom.b58(b"1"), data_b58=data)


def test_sealed_state_round_trips_and_resists_tampering() -> None:
    dapp = phantom.new_dapp_keypair()
    state = phantom.seal_state("server-secret", secret=dapp, phantom_public_key="PK")
    secret, pk = phantom.open_state("server-secret", state)
    assert bytes(secret) == bytes(dapp) and pk == "PK"
    assert phantom.public_key_b58(dapp) not in state
    with pytest.raises(phantom.PhantomError, match="not sealed by this server"):
        phantom.open_state("other-secret", state)
    flipped = state[:-2] + ("A" if state[-2] != "A" else "B") + state[-1]
    with pytest.raises(phantom.PhantomError):
        phantom.open_state("server-secret", flipped)
    with pytest.raises(phantom.PhantomError):
        phantom.open_state("server-secret", "%%%")
