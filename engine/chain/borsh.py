"""A small Borsh reader and a cached base58 encoder for 32-byte public keys.

Borsh is what Anchor programs use for instruction arguments and events: little-endian fixed-width
integers, ``bool`` as one byte, strings and vectors prefixed with a ``u32`` length, no padding.
The reader raises :class:`ShortRead` (a :class:`DecodeError`) instead of ``struct.error`` or
``IndexError`` so a truncated payload is one clear, countable error.
"""

from __future__ import annotations

import logging
import struct
from typing import Final

from solders.pubkey import Pubkey

from engine.chain.errors import DecodeError

logger = logging.getLogger(__name__)

_U8: Final = struct.Struct("<B")
_U16: Final = struct.Struct("<H")
_U32: Final = struct.Struct("<I")
_U64: Final = struct.Struct("<Q")
_I64: Final = struct.Struct("<q")

# Base58 of a 32-byte key is the decoder's hot spot: the pure-Python ``base58`` package takes
# ~6 us per key, solders (Rust) ~0.2 us, a dict hit ~0.02 us. Mints and active wallets repeat a
# lot, so a bounded dict in front of solders pays; it is cleared when full rather than kept LRU
# because an LRU's bookkeeping costs more than the occasional re-encode.
_KEY_CACHE: dict[bytes, str] = {}
_KEY_CACHE_MAX: Final = 200_000
_from_bytes = Pubkey.from_bytes


cached_key = _KEY_CACHE.get
"""Hot-path peek into the key cache: ``cached_key(raw) or pubkey_str(raw)`` saves a call."""


def pubkey_str(raw: bytes) -> str:
    """Base58 text of a 32-byte public key (cached)."""
    text = _KEY_CACHE.get(raw)
    if text is None:
        if len(raw) != 32:
            raise DecodeError(f"a public key is 32 bytes, got {len(raw)}")
        if len(_KEY_CACHE) >= _KEY_CACHE_MAX:
            _KEY_CACHE.clear()
        text = _KEY_CACHE[raw] = str(_from_bytes(raw))
    return text


_B58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_VALUE: Final = {c: i for i, c in enumerate(_B58_ALPHABET)}


def b58decode(text: str) -> bytes:
    """Bytes of base58 ``text`` (instruction data in RPC JSON); ``ValueError`` if not base58.

    The ``base58`` package turns its big integer into bytes one ``divmod`` at a time, a third
    of a transaction's decode time; ``int.to_bytes`` does that part in C.
    """
    value = 0
    digits = _B58_VALUE
    try:
        for char in text:
            value = value * 58 + digits[char]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"invalid base58 character {exc}") from None
    zeros = len(text) - len(text.lstrip("1"))
    return b"\0" * zeros + value.to_bytes((value.bit_length() + 7) // 8, "big")


class ShortRead(DecodeError):
    """A Borsh payload ended before the field being read."""


class Reader:
    """Sequential Borsh reader over ``bytes`` (or a memoryview)."""

    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes, pos: int = 0) -> None:
        self.buf = buf
        self.pos = pos

    def remaining(self) -> int:
        """Bytes left after the current position."""
        return len(self.buf) - self.pos

    def _take(self, n: int, what: str) -> int:
        start = self.pos
        end = start + n
        if n < 0 or end > len(self.buf):
            raise ShortRead(
                f"payload ended reading {what}: need {n} byte(s) at offset {start}, "
                f"have {len(self.buf) - start}"
            )
        self.pos = end
        return start

    def u8(self) -> int:
        """Read an unsigned 8-bit integer."""
        return int(_U8.unpack_from(self.buf, self._take(1, "u8"))[0])

    def bool(self) -> bool:
        """Read a Borsh bool (one byte, 0 or 1)."""
        value = self.u8()
        if value > 1:
            raise DecodeError(f"a Borsh bool is 0 or 1, got {value}")
        return value == 1

    def u16(self) -> int:
        """Read an unsigned little-endian 16-bit integer."""
        return int(_U16.unpack_from(self.buf, self._take(2, "u16"))[0])

    def u32(self) -> int:
        """Read an unsigned little-endian 32-bit integer."""
        return int(_U32.unpack_from(self.buf, self._take(4, "u32"))[0])

    def u64(self) -> int:
        """Read an unsigned little-endian 64-bit integer."""
        return int(_U64.unpack_from(self.buf, self._take(8, "u64"))[0])

    def i64(self) -> int:
        """Read a signed little-endian 64-bit integer."""
        return int(_I64.unpack_from(self.buf, self._take(8, "i64"))[0])

    def raw(self, n: int) -> bytes:
        """Read ``n`` raw bytes."""
        start = self._take(n, f"{n} bytes")
        return bytes(self.buf[start : start + n])

    def pubkey(self) -> str:
        """Read a 32-byte public key as base58 text."""
        return pubkey_str(self.raw(32))

    def string(self, max_len: int = 10_000) -> str:
        """Read a u32-length-prefixed UTF-8 string (invalid bytes replaced, length bounded)."""
        n = self.u32()
        if n > max_len:
            raise DecodeError(f"string length {n} exceeds the limit of {max_len}")
        # Token names are attacker-controlled: never fail a whole event on bad UTF-8.
        return self.raw(n).decode("utf-8", errors="replace")

    def skip(self, n: int) -> None:
        """Advance past ``n`` bytes."""
        self._take(n, f"{n} bytes")
