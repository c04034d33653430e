"""Phantom's deeplink protocol, the dapp side: connect, signTransaction, and their callbacks.

Inside Telegram there is no injected wallet, so the Mini App talks to Phantom through universal
links (``https://phantom.app/ul/v1/<method>``) and gets the answer back on ``redirect_link``:

1. ``connect``: the dapp sends a fresh x25519 public key (``dapp_encryption_public_key``);
   Phantom answers with its own (``phantom_encryption_public_key``), a ``nonce`` and ``data``,
   a NaCl box (XSalsa20-Poly1305 under the x25519 shared key) of
   ``{"public_key", "session"}``.
2. ``signTransaction``: the dapp boxes ``{"transaction", "session"}`` (transaction base58) with
   a fresh 24-byte nonce; Phantom answers with a boxed ``{"transaction"}``, signed, which the
   dapp submits itself (``signAndSendTransaction`` is deprecated by Phantom).

Keys, nonces and ciphertexts are base58 everywhere; payloads are UTF-8 JSON. Rejections come as
``errorCode`` / ``errorMessage`` query parameters and raise :class:`PhantomRejected`.

The dapp's secret key of a session lives with the client between redirects: :func:`seal_state`
encrypts it (AES-256-GCM under a key derived from the server secret) into an opaque string, so
the server keeps no session table and the client never sees the raw key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import base58
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.exceptions import CryptoError
from nacl.public import Box, PrivateKey, PublicKey
from nacl.utils import random as nacl_random

PHANTOM_BASE: Final = "https://phantom.app/ul/v1"
NONCE_LEN: Final = Box.NONCE_SIZE
Cluster = Literal["mainnet-beta", "testnet", "devnet"]
_STATE_VERSION: Final = b"\x01"


class PhantomError(ValueError):
    """A callback or payload cannot be used (bad encoding, failed decryption, missing field)."""


class PhantomRejected(PhantomError):
    """The user (or Phantom) refused: ``error_code`` as Phantom sends it (e.g. 4001)."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(f"Phantom refused ({error_code}): {message}")
        self.error_code = error_code


def b58(data: bytes) -> str:
    """Base58 text of bytes."""
    return base58.b58encode(data).decode()


def unb58(text: str, *, what: str, length: int | None = None) -> bytes:
    """Bytes of base58 text; PhantomError names ``what`` when it is not base58 or the length."""
    try:
        raw = base58.b58decode(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        raise PhantomError(f"{what} is not base58") from None
    if length is not None and len(raw) != length:
        raise PhantomError(f"{what} must be {length} bytes, got {len(raw)}")
    return raw


def new_dapp_keypair() -> PrivateKey:
    """A fresh x25519 keypair for one deeplink session (Phantom recommends one per connect)."""
    return PrivateKey.generate()


def public_key_b58(secret: PrivateKey) -> str:
    """The ``dapp_encryption_public_key`` of a session keypair."""
    return b58(bytes(secret.public_key))


def shared_box(secret: PrivateKey, their_public_b58: str) -> Box:
    """The NaCl box between our secret key and their base58 x25519 public key."""
    their = PublicKey(unb58(their_public_b58, what="encryption public key", length=32))
    return Box(secret, their)


def encrypt_payload(
    box: Box, payload: Mapping[str, Any], *, nonce: bytes | None = None
) -> tuple[str, str]:
    """Box a JSON payload: (nonce, data), both base58. The nonce is random unless given."""
    nonce = nonce if nonce is not None else nacl_random(NONCE_LEN)
    if len(nonce) != NONCE_LEN:
        raise ValueError(f"nonce must be {NONCE_LEN} bytes")
    body = json.dumps(dict(payload), separators=(",", ":")).encode()
    sealed = box.encrypt(body, nonce)
    return b58(nonce), b58(sealed.ciphertext)


def decrypt_payload(box: Box, *, nonce_b58: str, data_b58: str) -> dict[str, Any]:
    """Open a boxed JSON payload; PhantomError when it does not authenticate or is not JSON."""
    nonce = unb58(nonce_b58, what="nonce", length=NONCE_LEN)
    data = unb58(data_b58, what="data")
    try:
        plain = box.decrypt(data, nonce)
    except CryptoError:
        raise PhantomError("data does not decrypt with this session's key") from None
    try:
        value = json.loads(plain)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise PhantomError("decrypted data is not JSON") from None
    if not isinstance(value, dict):
        raise PhantomError("decrypted data is not a JSON object")
    return value


def _raise_if_rejected(query: Mapping[str, str]) -> None:
    if "errorCode" in query:
        raise PhantomRejected(
            str(query.get("errorCode"))[:16], str(query.get("errorMessage", ""))[:200]
        )


def parse_link(url: str) -> dict[str, str]:
    """The query parameters of a universal link or of a redirect Phantom came back on."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def connect_url(
    *, app_url: str, dapp_public_key: str, redirect_link: str, cluster: Cluster = "mainnet-beta"
) -> str:
    """The ``connect`` universal link."""
    query = urlencode(
        {
            "app_url": app_url,
            "dapp_encryption_public_key": dapp_public_key,
            "redirect_link": redirect_link,
            "cluster": cluster,
        }
    )
    return f"{PHANTOM_BASE}/connect?{query}"


@dataclass(frozen=True, slots=True)
class Connected:
    """A decrypted ``connect`` answer."""

    public_key: str
    """The user's wallet address."""
    session: str
    phantom_encryption_public_key: str


def read_connect_callback(secret: PrivateKey, query: Mapping[str, str]) -> Connected:
    """Decrypt the query Phantom appended to ``redirect_link`` after ``connect``."""
    _raise_if_rejected(query)
    try:
        phantom_key = query["phantom_encryption_public_key"]
        nonce, data = query["nonce"], query["data"]
    except KeyError as exc:
        raise PhantomError(f"connect callback lacks {exc.args[0]}") from None
    body = decrypt_payload(shared_box(secret, phantom_key), nonce_b58=nonce, data_b58=data)
    public_key, session = body.get("public_key"), body.get("session")
    if not isinstance(public_key, str) or not isinstance(session, str):
        raise PhantomError("connect data lacks public_key or session")
    unb58(public_key, what="public_key", length=32)
    return Connected(public_key, session, phantom_key)


def sign_transaction_url(
    box: Box,
    *,
    dapp_public_key: str,
    session: str,
    transaction: bytes,
    redirect_link: str,
    nonce: bytes | None = None,
) -> str:
    """The ``signTransaction`` universal link carrying the boxed transaction and session."""
    nonce_b58, payload = encrypt_payload(
        box, {"transaction": b58(transaction), "session": session}, nonce=nonce
    )
    query = urlencode(
        {
            "dapp_encryption_public_key": dapp_public_key,
            "nonce": nonce_b58,
            "redirect_link": redirect_link,
            "payload": payload,
        }
    )
    return f"{PHANTOM_BASE}/signTransaction?{query}"


def read_sign_callback(box: Box, query: Mapping[str, str]) -> bytes:
    """The signed transaction bytes from the ``signTransaction`` callback."""
    _raise_if_rejected(query)
    try:
        nonce, data = query["nonce"], query["data"]
    except KeyError as exc:
        raise PhantomError(f"signTransaction callback lacks {exc.args[0]}") from None
    body = decrypt_payload(box, nonce_b58=nonce, data_b58=data)
    tx = body.get("transaction")
    if not isinstance(tx, str):
        raise PhantomError("signTransaction data lacks transaction")
    return unb58(tx, what="transaction")


# -- sealed session state ----------------------------------------------------------------------


def _state_key(server_secret: str) -> bytes:
    # A dedicated key: the server secret also signs other things, never reuse it raw.
    return hashlib.sha256(b"solai:phantom-state:v1\x00" + server_secret.encode()).digest()


def seal_state(
    server_secret: str, *, secret: PrivateKey, phantom_public_key: str | None = None
) -> str:
    """An opaque, authenticated, encrypted token holding a session's dapp secret key."""
    body = json.dumps(
        {"sk": b58(bytes(secret)), "pk": phantom_public_key}, separators=(",", ":")
    ).encode()
    nonce = os.urandom(12)
    sealed = AESGCM(_state_key(server_secret)).encrypt(nonce, body, _STATE_VERSION)
    return base64.urlsafe_b64encode(_STATE_VERSION + nonce + sealed).decode().rstrip("=")


def open_state(server_secret: str, state: str) -> tuple[PrivateKey, str | None]:
    """(dapp secret key, Phantom's public key or None) from :func:`seal_state`'s token."""
    try:
        raw = base64.urlsafe_b64decode(state + "=" * (-len(state) % 4))
    except ValueError:
        raise PhantomError("state is not a sealed session") from None
    if len(raw) < 1 + 12 + 16 or raw[:1] != _STATE_VERSION:
        raise PhantomError("state is not a sealed session")
    try:
        body = AESGCM(_state_key(server_secret)).decrypt(raw[1:13], raw[13:], _STATE_VERSION)
    except InvalidTag:
        raise PhantomError("state was not sealed by this server") from None
    data = json.loads(body)
    pk = data.get("pk")
    return PrivateKey(unb58(data["sk"], what="state", length=32)), pk if isinstance(
        pk, str
    ) else None
