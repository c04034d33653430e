"""Simulated transactions: an invocation tree that renders into the exact shapes a Solana node
returns — ``logMessages`` with invoke/consumed/success lines, ``innerInstructions`` with stack
heights, a v0 message with ordered account keys and header, balances and token balances.

The invocation tree is the single source: the log lines, the inner instructions and the compute
units all come from walking it, so they can never disagree with each other.
"""

from __future__ import annotations

import base64
import logging
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import base58
import orjson
from solders.hash import Hash
from solders.instruction import CompiledInstruction
from solders.message import MessageHeader, MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.transaction import VersionedTransaction

from engine.chain.programs import COMPUTE_BUDGET_PROGRAM, SYSTEM_PROGRAM
from engine.events import ChainEvent

logger = logging.getLogger(__name__)

# Native programs log only "invoke" and "success", and cost a flat amount of compute.
BUILTIN_PROGRAMS: Final = frozenset({SYSTEM_PROGRAM, COMPUTE_BUDGET_PROGRAM})
BUILTIN_COST: Final = 150
LAMPORTS_PER_SIGNATURE: Final = 5000


@dataclass(frozen=True, slots=True)
class Fail:
    """Marks where an invocation fails: ``log`` is printed, then the custom error unwinds."""

    code: int
    log: str | None = None


@dataclass(slots=True)
class Inv:
    """One program invocation: its accounts and data, and what happens inside it in order.

    ``items`` holds log lines (``str``), compute spent (``int``), nested invocations (``Inv``)
    and at most one :class:`Fail`.
    """

    program: str
    accounts: tuple[str, ...]
    data: bytes
    items: list[str | int | Inv | Fail] = field(default_factory=list)
    return_data: bytes | None = None


@dataclass(frozen=True, slots=True)
class TokenBalance:
    """A token account's balance as pre/postTokenBalances list it."""

    account_index: int
    mint: str
    owner: str
    program: str
    amount: int
    decimals: int


@dataclass(frozen=True, slots=True)
class CompiledIx:
    """An instruction with its program and accounts as indexes into the account keys."""

    program_index: int
    accounts: bytes
    """Account indexes, one byte each (a v0 message has at most 256 static keys)."""
    data: bytes
    stack_height: int


@dataclass(slots=True)
class SimTx:
    """One simulated transaction, compiled, with everything needed to answer RPC about it."""

    signature: str
    slot: int
    block_time: int
    t_ms: int
    account_keys: tuple[str, ...]
    header: tuple[int, int, int]
    recent_blockhash: str
    instructions: tuple[CompiledIx, ...]
    inner: tuple[tuple[int, tuple[CompiledIx, ...]], ...]
    pre_balances: array[int]
    post_balances: array[int]
    pre_token_balances: tuple[TokenBalance, ...]
    post_token_balances: tuple[TokenBalance, ...]
    fee: int
    compute_units: int
    err: Any
    extra_signatures: tuple[str, ...] = ()
    """Signatures of the other signers (a create is signed by the mint keypair too)."""
    intended: tuple[ChainEvent, ...] = ()
    """The normalized events this transaction was built to carry, for round-trip tests."""
    seq: int = -1
    """Emission order (set when published); -1 while not yet on the simulated chain."""
    emitted_ns: int | None = None
    """``time.monotonic_ns()`` when the transaction was published (latency benchmarks)."""
    ws_body: bytes = b""
    """Pre-encoded ``{"context":…,"value":…}`` of its logsNotification; it is also where the
    log lines live (kept once, as bytes: a prebuilt benchmark holds 100k transactions)."""

    @property
    def logs(self) -> list[str]:
        """The transaction's log lines (``meta.logMessages``)."""
        logs: list[str] = orjson.loads(self.ws_body)["value"]["logs"]
        return logs

    def mentions(self, address: str) -> bool:
        """True when ``address`` is one of the transaction's account keys."""
        return address in self.account_keys


class TxBuilder:
    """Collects a transaction's top-level invocations and account metas, then compiles it."""

    def __init__(self, fee_payer: str) -> None:
        self.fee_payer = fee_payer
        # key -> [signer, writable]; insertion order is kept inside each header group.
        self._metas: dict[str, list[bool]] = {fee_payer: [True, True]}
        self._top: list[Inv] = []

    def meta(self, key: str, *, signer: bool = False, writable: bool = False) -> None:
        """Declare an account (flags are OR-ed when a key appears several times)."""
        m = self._metas.get(key)
        if m is None:
            self._metas[key] = [signer, writable]
        elif signer or writable:
            m[0] = m[0] or signer
            m[1] = m[1] or writable

    def add(self, inv: Inv, metas: Sequence[tuple[str, bool, bool]] = ()) -> Inv:
        """Add a top-level instruction; ``metas`` are (key, signer, writable) of its accounts."""
        for key, signer, writable in metas:
            self.meta(key, signer=signer, writable=writable)
        known = self._metas
        for key in inv.accounts:
            if key not in known:
                known[key] = [False, False]
        if inv.program not in known:
            known[inv.program] = [False, False]
        self._top.append(inv)
        return inv

    @property
    def instructions(self) -> list[Inv]:
        """The top-level invocations added so far."""
        return self._top

    def account_keys(
        self, inner: Iterable[Inv] = ()
    ) -> tuple[tuple[str, ...], tuple[int, int, int]]:
        """Keys in message order (writable signers, readonly signers, writable, readonly) and
        the header (numRequiredSignatures, numReadonlySigned, numReadonlyUnsigned).

        ``inner`` are the executed inner invocations: a CPI can only use accounts its caller
        was given, but registering them keeps a sloppy builder from producing a bad index."""
        known = self._metas
        for child in inner:
            if child.program not in known:
                known[child.program] = [False, False]
            for key in child.accounts:
                if key not in known:
                    known[key] = [False, False]
        groups: tuple[list[str], list[str], list[str], list[str]] = ([], [], [], [])
        for key, (signer, writable) in self._metas.items():
            groups[(0 if writable else 1) if signer else (2 if writable else 3)].append(key)
        keys = (*groups[0], *groups[1], *groups[2], *groups[3])
        header = (len(groups[0]) + len(groups[1]), len(groups[1]), len(groups[3]))
        return keys, header


@dataclass(slots=True)
class Rendered:
    """Logs, inner instructions and compute of an executed invocation list."""

    logs: list[str]
    inner: list[tuple[int, list[tuple[Inv, int]]]]
    compute_units: int
    failed_at: int | None
    fail_code: int | None


def render_execution(top: Sequence[Inv], compute_limit: int) -> Rendered:
    """Walk the invocations as the runtime would and produce logs, inner ixs and CU."""
    logs: list[str] = []
    inner: list[tuple[int, list[tuple[Inv, int]]]] = []
    used = 0
    for index, inv in enumerate(top):
        calls: list[tuple[Inv, int]] = []
        consumed, fail = _render(inv, 1, compute_limit - used, logs, calls)
        used += consumed
        if calls:
            inner.append((index, calls))
        if fail is not None:
            return Rendered(logs, inner, used, index, fail)
    return Rendered(logs, inner, used, None, None)


def _render(
    inv: Inv, depth: int, remaining: int, logs: list[str], calls: list[tuple[Inv, int]]
) -> tuple[int, int | None]:
    program = inv.program
    logs.append(f"Program {program} invoke [{depth}]")
    if depth > 1:
        calls.append((inv, depth))
    if program in BUILTIN_PROGRAMS:
        logs.append(f"Program {program} success")
        return BUILTIN_COST, None
    consumed = 0
    fail: int | None = None
    for item in inv.items:
        if isinstance(item, str):
            logs.append(item)
        elif isinstance(item, int):
            consumed += item
        elif isinstance(item, Inv):
            used, child_fail = _render(item, depth + 1, remaining - consumed, logs, calls)
            consumed += used
            if child_fail is not None:
                fail = child_fail
                break
        else:
            if item.log is not None:
                logs.append(item.log)
            fail = item.code
            break
    if inv.return_data is not None and fail is None:
        logs.append(f"Program return: {program} {base64.b64encode(inv.return_data).decode()}")
    logs.append(f"Program {program} consumed {consumed} of {remaining} compute units")
    if fail is not None:
        logs.append(f"Program {program} failed: custom program error: {fail:#x}")
    else:
        logs.append(f"Program {program} success")
    return consumed, fail


def compile_ix(inv: Inv, index: dict[str, int], stack_height: int) -> CompiledIx:
    """Turn an invocation into indexes over the account keys."""
    return CompiledIx(
        index[inv.program], bytes([index[k] for k in inv.accounts]), inv.data, stack_height
    )


def ui_amount(amount: int, decimals: int) -> tuple[float | None, str]:
    """``uiAmount`` (None for zero, as the node prints null) and ``uiAmountString``."""
    if decimals == 0:
        text = str(amount)
    else:
        whole, frac = divmod(amount, 10**decimals)
        text = f"{whole}.{frac:0{decimals}d}".rstrip("0").rstrip(".")
    # The node divides in f64 (amount as f64 / 10^decimals); Python's true division matches.
    return (amount / 10**decimals if amount else None), text


def token_balance_json(tb: TokenBalance) -> dict[str, Any]:
    """One pre/postTokenBalances entry."""
    ui, text = ui_amount(tb.amount, tb.decimals)
    return {
        "accountIndex": tb.account_index,
        "mint": tb.mint,
        "owner": tb.owner,
        "programId": tb.program,
        "uiTokenAmount": {
            "amount": str(tb.amount),
            "decimals": tb.decimals,
            "uiAmount": ui,
            "uiAmountString": text,
        },
    }


def _ix_json(ix: CompiledIx) -> dict[str, Any]:
    return {
        "accounts": list(ix.accounts),
        "data": base58.b58encode(ix.data).decode(),
        "programIdIndex": ix.program_index,
        "stackHeight": ix.stack_height,
    }


def _ix_json_parsed(ix: CompiledIx, keys: tuple[str, ...]) -> dict[str, Any]:
    # The node parses System/Token instructions into objects; everything else (pump, PumpSwap)
    # comes "partially decoded" like this, which is what the decoders read.
    return {
        "accounts": [keys[i] for i in ix.accounts],
        "data": base58.b58encode(ix.data).decode(),
        "programId": keys[ix.program_index],
        "stackHeight": ix.stack_height,
    }


def _meta(tx: SimTx, *, parsed: bool) -> dict[str, Any]:
    def inner_json(ix: CompiledIx) -> dict[str, Any]:
        return _ix_json_parsed(ix, tx.account_keys) if parsed else _ix_json(ix)

    meta: dict[str, Any] = {
        "computeUnitsConsumed": tx.compute_units,
        "costUnits": _cost_units(tx),
        "err": tx.err,
        "fee": tx.fee,
        "innerInstructions": [
            {"index": index, "instructions": [inner_json(ix) for ix in ixs]}
            for index, ixs in tx.inner
        ],
        "logMessages": tx.logs,
        "postBalances": list(tx.post_balances),
        "postTokenBalances": [token_balance_json(t) for t in tx.post_token_balances],
        "preBalances": list(tx.pre_balances),
        "preTokenBalances": [token_balance_json(t) for t in tx.pre_token_balances],
        "rewards": [],
        "status": {"Ok": None} if tx.err is None else {"Err": tx.err},
    }
    if not parsed:
        meta["loadedAddresses"] = {"readonly": [], "writable": []}
    return meta


def _cost_units(tx: SimTx) -> int:
    # The scheduler's cost model: signatures, write locks, instruction data and compute.
    writable = tx.header[0] - tx.header[1] + len(tx.account_keys) - tx.header[0] - tx.header[2]
    data = sum(len(ix.data) for ix in tx.instructions)
    return 720 * tx.header[0] + 300 * writable + data // 4 + tx.compute_units


def transaction_json(tx: SimTx, encoding: str = "json") -> dict[str, Any]:
    """The ``getTransaction`` result for ``encoding`` json, jsonParsed or base64."""
    if encoding == "base64":
        return {
            "blockTime": tx.block_time,
            "meta": _meta(tx, parsed=False),
            "slot": tx.slot,
            "transaction": [base64.b64encode(bytes(to_solders(tx))).decode(), "base64"],
            "version": 0,
        }
    parsed = encoding == "jsonParsed"
    n_signed, n_ro_signed, n_ro_unsigned = tx.header
    n_keys = len(tx.account_keys)
    if parsed:
        keys: list[Any] = [
            {
                "pubkey": k,
                "signer": i < n_signed,
                "source": "transaction",
                "writable": (i < n_signed - n_ro_signed)
                or (n_signed <= i < n_keys - n_ro_unsigned),
            }
            for i, k in enumerate(tx.account_keys)
        ]
        instructions = [_ix_json_parsed(ix, tx.account_keys) for ix in tx.instructions]
    else:
        keys = list(tx.account_keys)
        instructions = [_ix_json(ix) for ix in tx.instructions]
    message: dict[str, Any] = {
        "accountKeys": keys,
        "addressTableLookups": [],
        "instructions": instructions,
        "recentBlockhash": tx.recent_blockhash,
    }
    if not parsed:
        message["header"] = {
            "numReadonlySignedAccounts": n_ro_signed,
            "numReadonlyUnsignedAccounts": n_ro_unsigned,
            "numRequiredSignatures": n_signed,
        }
    return {
        "blockTime": tx.block_time,
        "meta": _meta(tx, parsed=parsed),
        "slot": tx.slot,
        "transaction": {"message": message, "signatures": [tx.signature, *tx.extra_signatures]},
        "version": 0,
    }


def to_solders(tx: SimTx) -> VersionedTransaction:
    """The transaction as a real serialized v0 transaction (signature bytes are the sim's)."""
    header = MessageHeader(*tx.header)
    message = MessageV0(
        header,
        [Pubkey.from_string(k) for k in tx.account_keys],
        Hash.from_string(tx.recent_blockhash),
        [CompiledInstruction(ix.program_index, ix.data, ix.accounts) for ix in tx.instructions],
        [],
    )
    sigs = [Signature.from_string(s) for s in (tx.signature, *tx.extra_signatures)]
    return VersionedTransaction.populate(message, sigs)


def logs_notification_body(signature: str, slot: int, err: Any, logs: list[str]) -> bytes:
    """Pre-encode the ``result`` of a logsNotification (subscription id is spliced in later)."""
    encoded = orjson.dumps(
        {"context": {"slot": slot}, "value": {"signature": signature, "err": err, "logs": logs}}
    )
    # orjson's output keeps the capacity of its growth buffer (about 3x the length here);
    # copying trims it, which matters when a benchmark holds 100k of these.
    return memoryview(encoded).tobytes()
