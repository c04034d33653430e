"""The Borsh reader and the base58 helpers."""

from __future__ import annotations

import struct

import base58
import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.chain.borsh import Reader, ShortRead, b58decode, pubkey_str
from engine.chain.errors import DecodeError


@given(st.binary(max_size=400))
def test_b58decode_matches_the_reference(data: bytes) -> None:
    assert b58decode(base58.b58encode(data).decode()) == data


@pytest.mark.parametrize("text", ["0", "O", "Il", "abc!", "ÿ"])
def test_b58decode_rejects_non_alphabet(text: str) -> None:
    with pytest.raises(ValueError, match="base58"):
        b58decode(text)


@given(st.binary(min_size=32, max_size=32))
def test_pubkey_str_is_base58(raw: bytes) -> None:
    assert pubkey_str(raw) == base58.b58encode(raw).decode()
    assert pubkey_str(raw) == pubkey_str(raw)  # cached path gives the same


def test_pubkey_str_rejects_wrong_sizes() -> None:
    with pytest.raises(DecodeError, match="32 bytes"):
        pubkey_str(b"\x01" * 31)


def test_reader_fields_and_short_reads() -> None:
    buf = struct.pack("<BHIQq", 1, 2, 3, 4, -5) + struct.pack("<I", 3) + b"abc" + b"\x01"
    r = Reader(buf)
    assert (r.u8(), r.u16(), r.u32(), r.u64(), r.i64(), r.string(), r.bool()) == (
        1,
        2,
        3,
        4,
        -5,
        "abc",
        True,
    )
    assert r.remaining() == 0
    with pytest.raises(ShortRead, match="u64"):
        r.u64()
    with pytest.raises(DecodeError, match="exceeds"):
        Reader(struct.pack("<I", 10_000_000)).string()
    with pytest.raises(DecodeError, match="bool"):
        Reader(b"\x02").bool()
    # Attacker-controlled names never fail on bad UTF-8.
    assert Reader(struct.pack("<I", 2) + b"\xff\xfe").string() == "\ufffd\ufffd"
