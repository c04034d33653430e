"""Normalize the shapes ``getTransaction`` answers in into one :class:`Transaction` view.

Accepted: a full JSON-RPC envelope (``{"jsonrpc", "result", "id"}``), a bare ``result``, or an
array holding exactly one ``result``; transaction encodings ``json`` (account keys are the static
keys, then ``meta.loadedAddresses.writable``, then ``.readonly``), ``jsonParsed`` (keys are
objects that already include the lookup-table addresses) and ``base64`` (decoded with solders).
Anything else raises :class:`DecodeError` naming the first thing that is wrong.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.chain.borsh import b58decode
from engine.chain.errors import DecodeError

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Instruction:
    """One instruction, top level (``inner == -1``) or a CPI inside top-level ``outer``."""

    program: str
    accounts: tuple[str, ...]
    outer: int
    inner: int
    stack_height: int | None
    data_b58: str | None = None
    parsed: Mapping[str, Any] | None = None
    raw: bytes | None = field(default=None, repr=False)

    def data(self) -> bytes:
        """Instruction data bytes (empty for jsonParsed ``parsed`` instructions)."""
        if self.raw is None:
            if not self.data_b58:
                self.raw = b""
            else:
                try:
                    self.raw = b58decode(self.data_b58)
                except ValueError as exc:
                    raise DecodeError(f"instruction data is not base58: {exc}") from exc
        return self.raw


@dataclass(slots=True, frozen=True)
class TokenBalance:
    """One entry of ``meta.preTokenBalances`` / ``postTokenBalances``."""

    account_index: int
    account: str
    mint: str
    owner: str | None
    amount: int
    decimals: int
    program_id: str | None


@dataclass(slots=True)
class Transaction:
    """A confirmed transaction in the decoder's own terms."""

    signature: str
    slot: int
    block_time: int | None
    err: Any
    fee: int
    account_keys: tuple[str, ...]
    signers: frozenset[str]
    logs: tuple[str, ...] | None
    instructions: tuple[Instruction, ...]
    inner: dict[int, tuple[Instruction, ...]]
    pre_balances: tuple[int, ...]
    post_balances: tuple[int, ...]
    pre_token_balances: tuple[TokenBalance, ...]
    post_token_balances: tuple[TokenBalance, ...]

    @property
    def fee_payer(self) -> str:
        """The first account key: the fee payer, always a signer."""
        return self.account_keys[0]

    @property
    def programs(self) -> frozenset[str]:
        """Every program id invoked, top level or by CPI."""
        out = {ix.program for ix in self.instructions}
        for group in self.inner.values():
            out.update(ix.program for ix in group)
        return frozenset(out)

    def instruction(self, outer: int, inner: int) -> Instruction | None:
        """The instruction at ``outer`` (and CPI position ``inner``, -1 = top level)."""
        if not 0 <= outer < len(self.instructions):
            return None
        if inner < 0:
            return self.instructions[outer]
        group = self.inner.get(outer, ())
        return group[inner] if inner < len(group) else None

    def parent(self, ix: Instruction) -> Instruction | None:
        """The instruction whose execution made the CPI ``ix`` (None for top level)."""
        if ix.inner < 0:
            return None
        top = self.instructions[ix.outer] if ix.outer < len(self.instructions) else None
        if ix.stack_height is None or ix.stack_height <= 2:
            return top
        group = self.inner.get(ix.outer, ())
        for pos in range(ix.inner - 1, -1, -1):
            cand = group[pos]
            if cand.stack_height == ix.stack_height - 1:
                return cand
        return top

    def lamport_delta(self, key: str) -> int:
        """post - pre lamports of account ``key`` (0 when unknown)."""
        total = 0
        for i, k in enumerate(self.account_keys):
            if k == key and i < len(self.pre_balances) and i < len(self.post_balances):
                total += self.post_balances[i] - self.pre_balances[i]
        return total

    def pre_token(self, account: str) -> TokenBalance | None:
        """The pre-transaction token balance of token account ``account``."""
        for tb in self.pre_token_balances:
            if tb.account == account:
                return tb
        return None

    def post_token(self, account: str) -> TokenBalance | None:
        """The post-transaction token balance of token account ``account``."""
        for tb in self.post_token_balances:
            if tb.account == account:
                return tb
        return None

    def token_mint(self, account: str) -> str | None:
        """The mint held by token account ``account``, from pre or post balances."""
        tb = self.pre_token(account) or self.post_token(account)
        return tb.mint if tb else None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise DecodeError(f"{where} must be a JSON object, got {_kind(value)}")
    return value


def _arr(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list | tuple):
        raise DecodeError(f"{where} must be a JSON array, got {_kind(value)}")
    return value


U64_MAX = 2**64 - 1
MAX_BLOCK_TIME = 2**40  # seconds: far beyond any real block, keeps ts (ms) inside i64


def _int(value: Any, where: str) -> int:
    if type(value) is not int or not 0 <= value <= U64_MAX:
        raise DecodeError(f"{where} must be an integer in u64 range, got {_kind(value)}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise DecodeError(f"{where} must be a non-empty string, got {_kind(value)}")
    return value


def unwrap_result(doc: Any) -> Mapping[str, Any]:
    """The getTransaction ``result`` object from an envelope, a bare result or a 1-array."""
    if isinstance(doc, list | tuple):
        if len(doc) != 1:
            raise DecodeError(f"expected an array of one transaction, got {len(doc)} item(s)")
        doc = doc[0]
    if not isinstance(doc, Mapping):
        raise DecodeError(
            f"not a transaction: expected a getTransaction response (JSON object), "
            f"got a JSON {_kind(doc)}"
        )
    if "error" in doc and "transaction" not in doc:
        err = doc["error"]
        msg = err.get("message") if isinstance(err, Mapping) else err
        raise DecodeError(f"the RPC answered with an error: {msg!r:.200}")
    if "result" in doc and "transaction" not in doc:
        result = doc["result"]
        if result is None:
            raise DecodeError("the RPC result is null: transaction not found")
        if isinstance(result, list | tuple):
            return unwrap_result(result)
        return _obj(result, "result")
    if "transaction" not in doc:
        raise DecodeError(
            "not a transaction: object has no 'transaction' (nor a 'result' holding one)"
        )
    return doc


def parse_transaction(doc: Any) -> Transaction:
    """Validate and normalize one getTransaction response; raises :class:`DecodeError`."""
    res = unwrap_result(doc)
    slot = _int(res.get("slot"), "result.slot")
    block_time = res.get("blockTime")
    if block_time is not None and (
        type(block_time) is not int or not 0 <= block_time <= MAX_BLOCK_TIME
    ):
        raise DecodeError(f"result.blockTime must be a unix time or null, got {block_time!r:.40}")
    meta_raw = res.get("meta")
    meta: Mapping[str, Any] = {} if meta_raw is None else _obj(meta_raw, "result.meta")
    tx_raw = res.get("transaction")
    loaded = _loaded_addresses(meta)
    if isinstance(tx_raw, list | tuple):
        signature, keys, signers, outer = _parse_base64_tx(tx_raw, loaded)
    else:
        signature, keys, signers, outer = _parse_json_tx(_obj(tx_raw, "result.transaction"), loaded)
    inner = _parse_inner(meta.get("innerInstructions"), keys)
    logs_raw = meta.get("logMessages")
    logs: tuple[str, ...] | None = None
    if logs_raw is not None:
        logs = tuple(_arr(logs_raw, "meta.logMessages"))
        for line in logs:
            if not isinstance(line, str):
                raise DecodeError(f"meta.logMessages holds a {_kind(line)}, not a string")
    fee_raw = meta.get("fee", 0)
    fee = fee_raw if type(fee_raw) is int and fee_raw >= 0 else 0
    return Transaction(
        signature=signature,
        slot=slot,
        block_time=block_time,
        err=meta.get("err"),
        fee=fee,
        account_keys=keys,
        signers=signers,
        logs=logs,
        instructions=outer,
        inner=inner,
        pre_balances=_balances(meta.get("preBalances"), "meta.preBalances"),
        post_balances=_balances(meta.get("postBalances"), "meta.postBalances"),
        pre_token_balances=_token_balances(meta.get("preTokenBalances"), keys, "pre"),
        post_token_balances=_token_balances(meta.get("postTokenBalances"), keys, "post"),
    )


def _loaded_addresses(meta: Mapping[str, Any]) -> tuple[str, ...]:
    loaded = meta.get("loadedAddresses")
    if loaded is None:
        return ()
    loaded = _obj(loaded, "meta.loadedAddresses")
    out: list[str] = []
    for part in ("writable", "readonly"):
        for i, key in enumerate(_arr(loaded.get(part, []), f"meta.loadedAddresses.{part}")):
            out.append(_str(key, f"meta.loadedAddresses.{part}[{i}]"))
    return tuple(out)


def _parse_json_tx(
    tx: Mapping[str, Any], loaded: tuple[str, ...]
) -> tuple[str, tuple[str, ...], frozenset[str], tuple[Instruction, ...]]:
    sigs = _arr(tx.get("signatures"), "transaction.signatures")
    if not sigs:
        raise DecodeError("transaction.signatures is empty")
    signature = _str(sigs[0], "transaction.signatures[0]")
    msg = _obj(tx.get("message"), "transaction.message")
    raw_keys = _arr(msg.get("accountKeys"), "transaction.message.accountKeys")
    if not raw_keys:
        raise DecodeError("transaction.message.accountKeys is empty")
    parsed_keys = isinstance(raw_keys[0], Mapping)
    keys: list[str] = []
    signers: set[str] = set()
    if parsed_keys:
        # jsonParsed: objects, lookup-table addresses already included (source "lookupTable").
        for i, item in enumerate(raw_keys):
            entry = _obj(item, f"accountKeys[{i}]")
            key = _str(entry.get("pubkey"), f"accountKeys[{i}].pubkey")
            keys.append(key)
            if entry.get("signer") is True:
                signers.add(key)
    else:
        for i, item in enumerate(raw_keys):
            keys.append(_str(item, f"accountKeys[{i}]"))
        keys.extend(loaded)
        header = _obj(msg.get("header", {}), "transaction.message.header")
        n_sig = header.get("numRequiredSignatures", len(sigs))
        n_sig = n_sig if type(n_sig) is int and n_sig > 0 else len(sigs)
        signers.update(keys[:n_sig])
    if not signers:
        signers.add(keys[0])
    key_tuple = tuple(keys)
    outer = tuple(
        _parse_ix(ix, key_tuple, outer=i, inner=-1, where=f"message.instructions[{i}]")
        for i, ix in enumerate(_arr(msg.get("instructions", []), "message.instructions"))
    )
    return signature, key_tuple, frozenset(signers), outer


def _parse_base64_tx(
    tx: Sequence[Any], loaded: tuple[str, ...]
) -> tuple[str, tuple[str, ...], frozenset[str], tuple[Instruction, ...]]:
    if len(tx) != 2 or tx[1] != "base64" or not isinstance(tx[0], str):
        raise DecodeError(
            "transaction given as an array must be [data, 'base64'] (base58 is not supported)"
        )
    # Imported here: only backfills with encoding=base64 need the transaction parser.
    from solders.transaction import VersionedTransaction

    try:
        vtx = VersionedTransaction.from_bytes(base64.b64decode(tx[0], validate=True))
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(f"transaction base64 data does not parse: {exc}") from exc
    message = vtx.message
    keys = tuple(str(k) for k in message.account_keys) + loaded
    if not keys or not vtx.signatures:
        raise DecodeError("base64 transaction has no account keys or no signatures")
    n_sig = message.header.num_required_signatures
    outer: list[Instruction] = []
    for i, cix in enumerate(message.instructions):
        idx = [int(a) for a in bytes(cix.accounts)]
        if cix.program_id_index >= len(keys) or any(a >= len(keys) for a in idx):
            raise DecodeError(f"message.instructions[{i}] refers to a missing account")
        outer.append(
            Instruction(
                program=keys[cix.program_id_index],
                accounts=tuple(keys[a] for a in idx),
                outer=i,
                inner=-1,
                stack_height=1,
                raw=bytes(cix.data),
            )
        )
    return str(vtx.signatures[0]), keys, frozenset(keys[: max(n_sig, 1)]), tuple(outer)


def _parse_ix(ix: Any, keys: tuple[str, ...], *, outer: int, inner: int, where: str) -> Instruction:
    ix = _obj(ix, where)
    sh = ix.get("stackHeight")
    stack_height = sh if type(sh) is int else None
    if "programIdIndex" in ix:
        pidx = _int(ix["programIdIndex"], f"{where}.programIdIndex")
        acc_idx = _arr(ix.get("accounts", []), f"{where}.accounts")
        if pidx >= len(keys):
            raise DecodeError(f"{where}.programIdIndex {pidx} is past the account keys")
        accounts: list[str] = []
        for a in acc_idx:
            if type(a) is not int or not 0 <= a < len(keys):
                raise DecodeError(f"{where}.accounts holds an invalid index {a!r:.20}")
            accounts.append(keys[a])
        data = ix.get("data", "")
        if not isinstance(data, str):
            raise DecodeError(f"{where}.data must be a base58 string, got {_kind(data)}")
        return Instruction(keys[pidx], tuple(accounts), outer, inner, stack_height, data_b58=data)
    program = _str(ix.get("programId"), f"{where}.programId")
    if "parsed" in ix:
        parsed = ix["parsed"]
        return Instruction(
            program,
            (),
            outer,
            inner,
            stack_height,
            parsed=parsed if isinstance(parsed, Mapping) else None,
        )
    accounts_raw = _arr(ix.get("accounts", []), f"{where}.accounts")
    accounts_s = tuple(_str(a, f"{where}.accounts[]") for a in accounts_raw)
    data = ix.get("data", "")
    if not isinstance(data, str):
        raise DecodeError(f"{where}.data must be a base58 string, got {_kind(data)}")
    return Instruction(program, accounts_s, outer, inner, stack_height, data_b58=data)


def _parse_inner(raw: Any, keys: tuple[str, ...]) -> dict[int, tuple[Instruction, ...]]:
    if raw is None:
        return {}
    out: dict[int, tuple[Instruction, ...]] = {}
    for g, group in enumerate(_arr(raw, "meta.innerInstructions")):
        group = _obj(group, f"meta.innerInstructions[{g}]")
        outer = _int(group.get("index"), f"meta.innerInstructions[{g}].index")
        items = _arr(group.get("instructions", []), f"meta.innerInstructions[{g}].instructions")
        out[outer] = tuple(
            _parse_ix(ix, keys, outer=outer, inner=i, where=f"innerInstructions[{g}][{i}]")
            for i, ix in enumerate(items)
        )
    return out


def _balances(raw: Any, where: str) -> tuple[int, ...]:
    if raw is None:
        return ()
    return tuple(_int(v, f"{where}[{i}]") for i, v in enumerate(_arr(raw, where)))


def _token_balances(raw: Any, keys: tuple[str, ...], which: str) -> tuple[TokenBalance, ...]:
    if raw is None:
        return ()
    where = f"meta.{which}TokenBalances"
    out: list[TokenBalance] = []
    for i, item in enumerate(_arr(raw, where)):
        item = _obj(item, f"{where}[{i}]")
        idx = _int(item.get("accountIndex"), f"{where}[{i}].accountIndex")
        if idx >= len(keys):
            raise DecodeError(f"{where}[{i}].accountIndex {idx} is past the account keys")
        ui = _obj(item.get("uiTokenAmount"), f"{where}[{i}].uiTokenAmount")
        amount_s = ui.get("amount")
        # u64 amounts have at most 20 digits; ascii check because str.isdigit accepts '²'.
        if (
            not isinstance(amount_s, str)
            or not 0 < len(amount_s) <= 20
            or not (amount_s.isascii() and amount_s.isdigit())
        ):
            raise DecodeError(f"{where}[{i}].uiTokenAmount.amount must be a u64 digit string")
        owner = item.get("owner")
        program_id = item.get("programId")
        decimals = ui.get("decimals", 0)
        out.append(
            TokenBalance(
                account_index=idx,
                account=keys[idx],
                mint=_str(item.get("mint"), f"{where}[{i}].mint"),
                owner=owner if isinstance(owner, str) else None,
                amount=int(amount_s),
                decimals=decimals if type(decimals) is int else 0,
                program_id=program_id if isinstance(program_id, str) else None,
            )
        )
    return tuple(out)
