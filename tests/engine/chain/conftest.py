"""Shared helpers: the recorded fixtures (``<repo>/../shared/fixtures``) and synthetic transactions.

Recorded transactions are never copied into the repository; tests that need them skip with a
reason when the shared folder is absent (a user's machine). Synthetic transactions are built
here from scratch, in the ``json`` encoding an RPC node returns.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import base58
import pytest

FIXTURES = Path(__file__).parents[3] / ".." / "shared" / "fixtures"
SOLANA = FIXTURES / "solana"


def fixture_path(rel: str) -> Path:
    """Path of a shared fixture, skipping the test when the shared folder is absent."""
    path = SOLANA / rel
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES.resolve()} (run from the monorepo)")
    if not path.exists():
        pytest.skip(f"fixture {rel} not present in {SOLANA.resolve()}")
    return path


def load_fixture(rel: str) -> Any:
    """A fresh parsed copy of a shared JSON fixture."""
    return json.loads(fixture_path(rel).read_text())


def result_of(doc: Any) -> dict[str, Any]:
    """The getTransaction ``result`` inside a fixture (envelope, bare or array of one)."""
    if isinstance(doc, list):
        doc = doc[0]
    return doc["result"] if "result" in doc and "transaction" not in doc else doc


def b58(data: bytes) -> str:
    """Base58 text of ``data``."""
    return base58.b58encode(data).decode()


def key(n: int) -> str:
    """A deterministic, valid-looking 32-byte public key."""
    return b58(n.to_bytes(2, "big") * 16)


@dataclass
class Ix:
    """One instruction of a synthetic transaction."""

    program: str
    accounts: Sequence[str] = ()
    data: bytes = b""
    inner: list[tuple[Ix, int]] = field(default_factory=list)
    """CPIs made by this instruction, each with its stack height (2 = called by this one)."""


def build_tx(
    *,
    signers: Sequence[str],
    instructions: Sequence[Ix],
    logs: Sequence[str] | None,
    signature: str = "5" * 64,
    slot: int = 300_000_000,
    block_time: int | None = 1_750_000_000,
    balances: dict[str, tuple[int, int]] | None = None,
    token_balances: Sequence[tuple[str, str, str, int | None, int | None]] = (),
    err: Any = None,
    fee: int = 5000,
) -> dict[str, Any]:
    """A getTransaction ``result`` (encoding ``json``) for the given instructions and logs.

    ``balances`` maps account -> (pre, post) lamports; ``token_balances`` lists
    (account, mint, owner, pre amount or None, post amount or None).
    """
    keys: list[str] = list(signers)

    def idx(k: str) -> int:
        if k not in keys:
            keys.append(k)
        return keys.index(k)

    def compile_ix(ix: Ix, height: int | None) -> dict[str, Any]:
        return {
            "programIdIndex": idx(ix.program),
            "accounts": [idx(a) for a in ix.accounts],
            "data": b58(ix.data),
            "stackHeight": height,
        }

    outer = [compile_ix(ix, None) for ix in instructions]
    inner = [
        {"index": i, "instructions": [compile_ix(cpi, h) for cpi, h in ix.inner]}
        for i, ix in enumerate(instructions)
        if ix.inner
    ]
    for acct, *_ in token_balances:
        idx(acct)
    for acct in balances or {}:
        idx(acct)
    bal = balances or {}
    pre_bal = [bal.get(k, (0, 0))[0] for k in keys]
    post_bal = [bal.get(k, (0, 0))[1] for k in keys]

    def tokens(which: int) -> list[dict[str, Any]]:
        out = []
        for acct, mint, owner, pre, post in token_balances:
            amount = pre if which == 0 else post
            if amount is None:
                continue
            out.append(
                {
                    "accountIndex": keys.index(acct),
                    "mint": mint,
                    "owner": owner,
                    "programId": "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA",
                    "uiTokenAmount": {"amount": str(amount), "decimals": 6},
                }
            )
        return out

    return {
        "slot": slot,
        "blockTime": block_time,
        "meta": {
            "err": err,
            "fee": fee,
            "innerInstructions": inner,
            "logMessages": None if logs is None else list(logs),
            "preBalances": pre_bal,
            "postBalances": post_bal,
            "preTokenBalances": tokens(0),
            "postTokenBalances": tokens(1),
            "loadedAddresses": {"writable": [], "readonly": []},
        },
        "transaction": {
            "signatures": [signature],
            "message": {
                "accountKeys": keys,
                "header": {
                    "numRequiredSignatures": len(signers),
                    "numReadonlySignedAccounts": 0,
                    "numReadonlyUnsignedAccounts": 0,
                },
                "instructions": outer,
                "recentBlockhash": "1" * 32,
            },
        },
        "version": 0,
    }


def data_line(payload: bytes) -> str:
    """A ``Program data:`` log line for ``payload``."""
    return "Program data: " + base64.b64encode(payload).decode()


def notification(logs: Sequence[str], *, signature: str = "5" * 64, err: Any = None) -> dict:
    """A logsSubscribe ``logsNotification`` message."""
    return {
        "jsonrpc": "2.0",
        "method": "logsNotification",
        "params": {
            "result": {
                "context": {"slot": 123},
                "value": {"signature": signature, "err": err, "logs": list(logs)},
            },
            "subscription": 1,
        },
    }


def deep(doc: Any) -> Any:
    """A deep copy (fixtures are mutated by some tests)."""
    return copy.deepcopy(doc)
