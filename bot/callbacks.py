"""Signed button data, bound to the user or chat it was sent to.

``<action>:<arg>:<bind>:<sig>``: ``bind`` is ``u<id>`` (only that user may press) or ``c<id>``
(anyone in that chat, for alerts), ids in base 36; ``sig`` is a truncated HMAC-SHA256 under a
key derived from ``SOLAI_SECRET_KEY``. It fits Telegram's 64 bytes and Discord's 100.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from typing import Final

MAX_BYTES: Final = 64
_SIG_BYTES: Final = 9
_PART: Final = re.compile(r"^[a-z]{1,3}$")
_ARG: Final = re.compile(r"^[a-z0-9]{0,16}$")


class BadCallback(ValueError):
    """Tampered, malformed, or pressed by someone it was not sent to."""

    def __init__(self, reason: str, *, not_yours: bool = False) -> None:
        super().__init__(reason)
        self.not_yours = not_yours


def b36(n: int) -> str:
    """A non-negative integer in base 36 (negative ids get a leading ``n``)."""
    if n < 0:
        return "n" + b36(-n)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def from_b36(s: str) -> int:
    """Inverse of :func:`b36`."""
    if s.startswith("n"):
        return -int(s[1:], 36)
    return int(s, 36)


@dataclass(frozen=True, slots=True)
class Binding:
    """Who may press a button: one user, or anyone in one chat."""

    kind: str
    """``u`` (user) or ``c`` (chat)."""
    id: str

    def encode(self) -> str:
        """``u<b36>`` / ``c<b36>``; non-numeric ids (console) are hashed."""
        try:
            return self.kind + b36(int(self.id))
        except ValueError:
            return self.kind + "h" + hashlib.sha256(self.id.encode()).hexdigest()[:10]


class Signer:
    """Packs and verifies callback data with one secret."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"solai-callback:" + secret.encode()).digest()

    def _sig(self, body: str) -> str:
        mac = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:_SIG_BYTES]
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def pack(self, action: str, arg: str, bind: Binding) -> str:
        """Signed data for a button; ValueError when it would not fit the platforms."""
        if not _PART.match(action) or not _ARG.match(arg):
            raise ValueError(f"callback action/arg must be short lowercase: {action!r} {arg!r}")
        body = f"{action}:{arg}:{bind.encode()}"
        data = f"{body}:{self._sig(body)}"
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data is {len(data)} bytes; Telegram allows {MAX_BYTES}")
        return data

    def unpack(self, data: str, *, user_id: str, chat_id: str) -> tuple[str, str]:
        """(action, arg) when the signature holds and the presser is the one it was sent to."""
        parts = data.split(":")
        if len(parts) != 4:
            raise BadCallback("malformed callback data")
        action, arg, bind, sig = parts
        body = f"{action}:{arg}:{bind}"
        if not hmac.compare_digest(self._sig(body), sig):
            raise BadCallback("bad callback signature")
        if bind not in (Binding("u", user_id).encode(), Binding("c", chat_id).encode()):
            raise BadCallback("button sent to someone else", not_yours=True)
        return action, arg
