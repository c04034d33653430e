"""Linking a wallet to a user: the user signs a server challenge with the wallet's ed25519 key.

The challenge is stateless: its nonce carries the user id, an expiry and randomness, with an
HMAC under the server secret, so any API process can check it. The message to sign is rebuilt
from the nonce, and the signature is verified over its UTF-8 bytes (what Phantom's
``signMessage`` signs).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Final

from solders.pubkey import Pubkey
from solders.signature import Signature

from engine.services.errors import InvalidInput
from engine.smartmoney.registry import valid_address

CHALLENGE_TTL_MS: Final = 10 * 60_000


@dataclass(frozen=True, slots=True)
class Challenge:
    """What the wallet must sign."""

    nonce: str
    message: str
    expires_ts: int


def _mac(secret: str, body: str) -> str:
    key = hashlib.sha256(b"solai:wallet-link:v1\x00" + secret.encode()).digest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()[:32]


def challenge_message(nonce: str) -> str:
    """The exact text the wallet signs for ``nonce``."""
    user_id, expires, _, _ = nonce.split(".", 3)
    return (
        "SolAI Signals: link this wallet to my account.\n"
        f"Account: {user_id}\n"
        f"Nonce: {nonce}\n"
        f"Valid until (ms UTC): {expires}\n"
        "Signing this message does not move funds."
    )


def new_challenge(secret: str, *, user_id: int, now_ms: int) -> Challenge:
    """A fresh challenge for ``user_id``, valid for 10 minutes."""
    expires = now_ms + CHALLENGE_TTL_MS
    body = f"{user_id}.{expires}.{secrets.token_hex(12)}"
    nonce = f"{body}.{_mac(secret, body)}"
    return Challenge(nonce, challenge_message(nonce), expires)


def verify_link(
    secret: str, *, user_id: int, now_ms: int, address: str, nonce: str, signature: str
) -> str:
    """The address, when ``signature`` is its ed25519 signature over this user's live challenge."""
    if not valid_address(address):
        raise InvalidInput(
            "not_address", f"not a Solana address: {address[:60]!r}", field="address"
        )
    parts = nonce.split(".")
    if len(parts) != 4 or not all(parts):
        raise InvalidInput("bad_nonce", "nonce is not one of ours", field="nonce")
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_mac(secret, body), parts[3]):
        raise InvalidInput("bad_nonce", "nonce is not one of ours", field="nonce")
    if parts[0] != str(user_id):
        raise InvalidInput("bad_nonce", "nonce was issued to another account", field="nonce")
    if not parts[1].isdigit() or int(parts[1]) < now_ms:
        raise InvalidInput(
            "nonce_expired", "the challenge expired: ask for a new one", field="nonce"
        )
    try:
        sig = Signature.from_string(signature)
    except ValueError:
        raise InvalidInput(
            "bad_signature", "signature is not a base58 ed25519 signature", field="signature"
        ) from None
    if not sig.verify(Pubkey.from_string(address), challenge_message(nonce).encode()):
        raise InvalidInput(
            "bad_signature",
            f"the signature is not {address}'s signature of the challenge",
            field="signature",
        )
    return address
