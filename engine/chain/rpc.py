"""Solana JSON-RPC over HTTP: a thin client on ``httpx.AsyncClient``.

Why not ``solana-py``'s ``AsyncClient`` (installed, 0.40)? It is a good fit for scripts, but here:

* the decoders consume the RPC's raw ``getTransaction`` JSON (the same shape as the recorded
  fixtures); solana-py parses it into solders objects that we would have to turn back into JSON;
* a bad reply surfaces from solana-py as a serde/solders parse error or a ``KeyError`` deep in
  its response classes, while we need :class:`RpcMalformedReply` naming the method and the field;
* retries, a per-provider request budget and ``Retry-After`` handling are not there, and adding
  them means wrapping every call anyway.

So requests are built by hand (a dozen methods), replies are validated at this edge into small
typed results, and solders is used for what it does well: keys and transactions
(``send_transaction`` and ``simulate_transaction`` accept a ``VersionedTransaction``).

Errors form one tree under :class:`RpcError`; only transient ones (connect errors, timeouts,
HTTP 429/5xx, JSON-RPC "node behind" style codes) are retried, with jittered exponential backoff,
and every attempt first takes a token from the provider's :class:`TokenBucket`.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import itertools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, NotRequired, TypedDict

import httpx
import orjson

from engine.chain.budget import TokenBucket
from engine.settings import RpcProvider

logger = logging.getLogger(__name__)

Commitment = Literal["processed", "confirmed", "finalized"]

# JSON-RPC error codes (agave ``rpc-client-api/src/custom_error.rs`` and JSON-RPC 2.0).
BLOCK_NOT_AVAILABLE: Final = -32004
NODE_UNHEALTHY: Final = -32005
SEND_TRANSACTION_PREFLIGHT_FAILURE: Final = -32002
BLOCK_STATUS_NOT_AVAILABLE_YET: Final = -32014
MIN_CONTEXT_SLOT_NOT_REACHED: Final = -32016
LONG_TERM_STORAGE_UNREACHABLE: Final = -32019
INTERNAL_ERROR: Final = -32603
# Codes that mean "try again shortly": the node is behind, the block is not there yet, or a
# gateway failed internally. Some providers report rate limits as JSON-RPC 429 / -32429 too.
TRANSIENT_CODES: Final = frozenset(
    {
        BLOCK_NOT_AVAILABLE,
        NODE_UNHEALTHY,
        BLOCK_STATUS_NOT_AVAILABLE_YET,
        MIN_CONTEXT_SLOT_NOT_REACHED,
        LONG_TERM_STORAGE_UNREACHABLE,
        INTERNAL_ERROR,
    }
)
RATE_LIMIT_CODES: Final = frozenset({429, -32429})

MAX_ACCOUNTS_PER_CALL: Final = 100  # getMultipleAccounts limit on agave
MAX_SIGNATURES_PER_STATUS_CALL: Final = 256  # getSignatureStatuses limit on agave


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class RpcError(Exception):
    """Base of every RPC failure; ``transient`` says whether retrying may help."""

    transient: bool = False

    def __init__(self, message: str, *, provider: str = "", method: str = "") -> None:
        prefix = " ".join(p for p in (provider, method) if p)
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.provider = provider
        self.method = method


class RpcTransportError(RpcError):
    """The request did not get a usable HTTP answer: connect error, timeout, HTTP 5xx/4xx."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        method: str = "",
        status: int | None = None,
        transient: bool = True,
    ) -> None:
        super().__init__(message, provider=provider, method=method)
        self.status = status
        self.transient = transient


class RpcRateLimited(RpcError):
    """The provider answered 429 (or a rate-limit JSON-RPC error)."""

    transient = True

    def __init__(
        self, message: str, *, provider: str = "", method: str = "", retry_after_s: float | None
    ) -> None:
        super().__init__(message, provider=provider, method=method)
        self.retry_after_s = retry_after_s


class RpcResponseError(RpcError):
    """A well-formed JSON-RPC error object: ``code``, ``message`` and optional ``data``."""

    def __init__(
        self,
        code: int,
        message: str,
        data: Any = None,
        *,
        provider: str = "",
        method: str = "",
    ) -> None:
        super().__init__(f"JSON-RPC error {code}: {message}", provider=provider, method=method)
        self.code = code
        self.rpc_message = message
        self.data = data
        self.transient = code in TRANSIENT_CODES


class RpcPreflightFailed(RpcResponseError):
    """``sendTransaction`` preflight simulation failed: ``err`` and ``logs`` say why."""

    @property
    def err(self) -> Any:
        """The transaction error reported by the simulation (e.g. InstructionError)."""
        return self.data.get("err") if isinstance(self.data, dict) else None

    @property
    def logs(self) -> list[str]:
        """The simulation's log lines."""
        logs = self.data.get("logs") if isinstance(self.data, dict) else None
        return [x for x in logs if isinstance(x, str)] if isinstance(logs, list) else []


class RpcMalformedReply(RpcError):
    """The reply is not valid JSON-RPC or lacks a field this method needs; names what's wrong."""


# ---------------------------------------------------------------------------------------------
# Raw JSON shapes (what the wire carries) and typed results (what the core gets)
# ---------------------------------------------------------------------------------------------


class UiTokenAmountJson(TypedDict):
    """``uiTokenAmount`` inside pre/postTokenBalances."""

    amount: str
    decimals: int
    uiAmount: float | None
    uiAmountString: str


class TokenBalanceJson(TypedDict):
    """One entry of ``meta.preTokenBalances`` / ``meta.postTokenBalances``."""

    accountIndex: int
    mint: str
    owner: NotRequired[str]
    programId: NotRequired[str]
    uiTokenAmount: UiTokenAmountJson


class TransactionJson(TypedDict):
    """A ``getTransaction`` result (encoding ``json`` or ``jsonParsed``), kept raw for decoders."""

    slot: int
    blockTime: int | None
    transaction: dict[str, Any]
    meta: dict[str, Any] | None
    version: NotRequired[int | Literal["legacy"]]


@dataclass(frozen=True, slots=True)
class SignatureInfo:
    """One entry of ``getSignaturesForAddress`` (newest first)."""

    signature: str
    slot: int
    err: Any
    block_time: int | None
    confirmation_status: str | None
    memo: str | None


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """An account as returned with ``base64`` encoding; ``data`` is the decoded bytes."""

    pubkey: str
    lamports: int
    owner: str
    data: bytes
    executable: bool
    rent_epoch: int
    space: int | None


@dataclass(frozen=True, slots=True)
class ParsedAccountInfo:
    """An account as returned with ``jsonParsed``; ``parsed`` is None when the node had no
    parser for the owner program, then ``data`` holds the raw bytes."""

    pubkey: str
    lamports: int
    owner: str
    executable: bool
    rent_epoch: int
    space: int | None
    program: str | None
    parsed: dict[str, Any] | None
    data: bytes | None


@dataclass(frozen=True, slots=True)
class TokenAmount:
    """A raw token amount with its decimals (``getTokenSupply``)."""

    amount: int
    decimals: int


@dataclass(frozen=True, slots=True)
class TokenAccountBalance:
    """One holder of ``getTokenLargestAccounts``."""

    address: str
    amount: int
    decimals: int


@dataclass(frozen=True, slots=True)
class LatestBlockhash:
    """``getLatestBlockhash``: the blockhash and the last block height it is valid for."""

    blockhash: str
    last_valid_block_height: int
    context_slot: int


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """``simulateTransaction``: ``err`` is None on success."""

    err: Any
    logs: list[str]
    units_consumed: int | None
    context_slot: int

    @property
    def ok(self) -> bool:
        """True when the simulated transaction succeeded."""
        return self.err is None


@dataclass(frozen=True, slots=True)
class SignatureStatus:
    """One entry of ``getSignatureStatuses``."""

    slot: int
    confirmations: int | None
    err: Any
    confirmation_status: str | None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts a transient failure gets and how long to back off between them."""

    max_attempts: int = 4
    base_delay_s: float = 0.1
    max_delay_s: float = 5.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Jittered exponential backoff before retry number ``attempt`` (1-based)."""
        cap = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        # "Equal jitter": half fixed, half random. The random half spreads the retries of many
        # concurrent callers instead of synchronising them; the fixed half keeps a minimum wait.
        return rng.uniform(cap / 2, cap)


# ---------------------------------------------------------------------------------------------
# Validation helpers: a malformed reply names the method and the path of the bad field.
# ---------------------------------------------------------------------------------------------


class _Check:
    def __init__(self, provider: str, method: str) -> None:
        self.provider = provider
        self.method = method

    def fail(self, path: str, expected: str, value: Any) -> RpcMalformedReply:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return RpcMalformedReply(
            f"reply field {path} should be {expected}, got {shown}",
            provider=self.provider,
            method=self.method,
        )

    def obj(self, value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, "an object", value)
        return value

    def lst(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(path, "an array", value)
        return value

    def int_(self, value: Any, path: str) -> int:
        if type(value) is not int:
            raise self.fail(path, "an integer", value)
        return value

    def opt_int(self, value: Any, path: str) -> int | None:
        return None if value is None else self.int_(value, path)

    def str_(self, value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise self.fail(path, "a string", value)
        return value

    def opt_str(self, value: Any, path: str) -> str | None:
        return None if value is None else self.str_(value, path)

    def bool_(self, value: Any, path: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, "a boolean", value)
        return value

    def key(self, d: dict[str, Any], name: str, path: str) -> Any:
        if name not in d:
            raise RpcMalformedReply(
                f"reply field {path}.{name} is missing", provider=self.provider, method=self.method
            )
        return d[name]

    def uint_str(self, value: Any, path: str) -> int:
        s = self.str_(value, path)
        if not s.isdigit():
            raise self.fail(path, "a decimal integer string", value)
        return int(s)

    def context_value(self, result: Any) -> tuple[int, Any]:
        r = self.obj(result, "result")
        ctx = self.obj(self.key(r, "context", "result"), "result.context")
        slot = self.int_(self.key(ctx, "slot", "result.context"), "result.context.slot")
        return slot, self.key(r, "value", "result")

    def b64(self, value: Any, path: str) -> bytes:
        pair = self.lst(value, path)
        if len(pair) != 2 or pair[1] != "base64":
            raise self.fail(path, '[<data>, "base64"]', value)
        try:
            return base64.b64decode(self.str_(pair[0], f"{path}[0]"), validate=True)
        except ValueError as exc:
            raise self.fail(f"{path}[0]", "base64", pair[0]) from exc


def _parse_retry_after(value: str | None, now: float) -> float | None:
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)


def _encode_tx(tx: Any) -> str:
    """Accept a base64 string, raw bytes or a solders transaction; return base64."""
    if isinstance(tx, str):
        return tx
    if isinstance(tx, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(tx)).decode()
    if hasattr(tx, "__bytes__"):
        return base64.b64encode(bytes(tx)).decode()
    raise TypeError(f"transaction must be base64 str, bytes or a solders transaction, not {tx!r}")


# ---------------------------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------------------------


class RpcClient:
    """One provider's HTTP JSON-RPC endpoint with budget, timeouts, retries and typed results."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "rpc",
        requests_per_s: float | None = None,
        burst: float | None = None,
        bucket: TokenBucket | None = None,
        timeout_s: float = 10.0,
        commitment: Commitment = "confirmed",
        retry: RetryPolicy | None = None,
        http: httpx.AsyncClient | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.url = url
        self.name = name
        self.commitment: Commitment = commitment
        self.retry = retry or RetryPolicy()
        if bucket is None and requests_per_s is not None:
            bucket = TokenBucket(requests_per_s, burst)
        self.bucket = bucket
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )
        # Passed on every request, so an injected client still gets this provider's timeout.
        self._timeout = httpx.Timeout(timeout_s)
        self._ids = itertools.count(1)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._sleep = sleep
        self.attempts = 0
        """Requests put on the wire, retries included (for metrics and tests)."""

    @classmethod
    def from_provider(
        cls,
        provider: RpcProvider,
        *,
        timeout_s: float = 10.0,
        commitment: Commitment = "confirmed",
        http: httpx.AsyncClient | None = None,
        retry: RetryPolicy | None = None,
    ) -> RpcClient:
        """A client for a configured provider, budgeted at its ``requests_per_s``."""
        return cls(
            provider.http_url,
            name=provider.name,
            requests_per_s=provider.requests_per_s,
            timeout_s=timeout_s,
            commitment=commitment,
            http=http,
            retry=retry,
        )

    async def __aenter__(self) -> RpcClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it (an injected one is the caller's)."""
        if self._owns_http:
            await self._http.aclose()

    @property
    def is_closed(self) -> bool:
        """True once the underlying HTTP client is closed."""
        return self._http.is_closed

    # -- transport --------------------------------------------------------------------------

    async def call(self, method: str, params: Sequence[Any] = (), *, retry: bool = True) -> Any:
        """Send one JSON-RPC request and return its ``result``; retries transient failures."""
        attempts = self.retry.max_attempts if retry else 1
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._call_once(method, params)
            except RpcError as exc:
                if not exc.transient or attempt >= attempts:
                    raise
                delay = self.retry.delay(attempt, self._rng)
                if isinstance(exc, RpcRateLimited) and exc.retry_after_s is not None:
                    delay = max(delay, exc.retry_after_s)
                logger.warning(
                    "%s %s attempt %d/%d failed (%s); retrying in %.2fs",
                    self.name,
                    method,
                    attempt,
                    attempts,
                    exc,
                    delay,
                )
                await self._sleep(delay)

    async def _call_once(self, method: str, params: Sequence[Any]) -> Any:
        if self.bucket is not None:
            await self.bucket.acquire()
        request_id = next(self._ids)
        body = orjson.dumps(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        )
        self.attempts += 1
        try:
            response = await self._http.post(
                self.url,
                content=body,
                headers={"content-type": "application/json"},
                timeout=self._timeout,
            )
        except httpx.TimeoutException as exc:
            raise RpcTransportError(
                f"timed out ({type(exc).__name__})", provider=self.name, method=method
            ) from exc
        except httpx.TransportError as exc:
            raise RpcTransportError(
                f"transport error: {type(exc).__name__}: {exc}", provider=self.name, method=method
            ) from exc
        return self._parse_response(method, request_id, response)

    def _parse_response(self, method: str, request_id: int, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 429:
            retry_after = _parse_retry_after(response.headers.get("retry-after"), time.time())
            if self.bucket is not None:
                self.bucket.pause(retry_after if retry_after is not None else 1.0)
            raise RpcRateLimited(
                f"HTTP 429 (Retry-After: {response.headers.get('retry-after')})",
                provider=self.name,
                method=method,
                retry_after_s=retry_after,
            )
        if status >= 500:
            raise RpcTransportError(
                f"HTTP {status}", provider=self.name, method=method, status=status
            )
        if status != 200:
            raise RpcTransportError(
                f"HTTP {status}: {response.text[:200]!r}",
                provider=self.name,
                method=method,
                status=status,
                transient=False,
            )
        try:
            reply = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise RpcMalformedReply(
                f"reply is not JSON ({exc}); starts with {response.content[:60]!r}",
                provider=self.name,
                method=method,
            ) from exc
        return self._unwrap(method, request_id, reply)

    def _unwrap(self, method: str, request_id: int, reply: Any) -> Any:
        check = _Check(self.name, method)
        if not isinstance(reply, dict):
            raise RpcMalformedReply(
                f"reply is not a JSON-RPC object but {type(reply).__name__}",
                provider=self.name,
                method=method,
            )
        if reply.get("jsonrpc") != "2.0":
            raise check.fail("jsonrpc", '"2.0"', reply.get("jsonrpc"))
        if reply.get("id") != request_id:
            raise check.fail("id", f"the request id {request_id}", reply.get("id"))
        if "error" in reply and reply["error"] is not None:
            error = check.obj(reply["error"], "error")
            code = check.int_(check.key(error, "code", "error"), "error.code")
            message = check.str_(check.key(error, "message", "error"), "error.message")
            data = error.get("data")
            if code in RATE_LIMIT_CODES:
                raise RpcRateLimited(
                    f"JSON-RPC error {code}: {message}",
                    provider=self.name,
                    method=method,
                    retry_after_s=None,
                )
            cls = (
                RpcPreflightFailed
                if code == SEND_TRANSACTION_PREFLIGHT_FAILURE
                else RpcResponseError
            )
            raise cls(code, message, data, provider=self.name, method=method)
        if "result" not in reply:
            raise RpcMalformedReply(
                "reply has neither result nor error", provider=self.name, method=method
            )
        return reply["result"]

    def _commitment(self, commitment: Commitment | None) -> Commitment:
        return commitment or self.commitment

    # -- methods ----------------------------------------------------------------------------

    async def get_transaction(
        self, signature: str, *, commitment: Commitment | None = None
    ) -> TransactionJson | None:
        """A transaction in ``json`` encoding (v0 supported), or None when the node lacks it."""
        method = "getTransaction"
        result = await self.call(
            method,
            [
                signature,
                {
                    "encoding": "json",
                    "maxSupportedTransactionVersion": 0,
                    "commitment": self._commitment(commitment),
                },
            ],
        )
        if result is None:
            return None
        check = _Check(self.name, method)
        r = check.obj(result, "result")
        check.int_(check.key(r, "slot", "result"), "result.slot")
        check.opt_int(r.get("blockTime"), "result.blockTime")
        tx = check.obj(check.key(r, "transaction", "result"), "result.transaction")
        check.lst(
            check.key(tx, "signatures", "result.transaction"), "result.transaction.signatures"
        )
        check.obj(check.key(tx, "message", "result.transaction"), "result.transaction.message")
        meta = r.get("meta")
        if meta is not None:
            check.obj(meta, "result.meta")
        return TransactionJson(
            slot=r["slot"],
            blockTime=r.get("blockTime"),
            transaction=tx,
            meta=meta,
            version=r.get("version", "legacy"),
        )

    async def get_signatures_for_address(
        self,
        address: str,
        *,
        before: str | None = None,
        until: str | None = None,
        limit: int | None = None,
        commitment: Commitment | None = None,
    ) -> list[SignatureInfo]:
        """Signatures touching ``address``, newest first, paged with ``before``/``until``."""
        method = "getSignaturesForAddress"
        config: dict[str, Any] = {"commitment": self._commitment(commitment)}
        if before is not None:
            config["before"] = before
        if until is not None:
            config["until"] = until
        if limit is not None:
            if not 1 <= limit <= 1000:
                raise ValueError(f"limit must be 1..1000, got {limit}")
            config["limit"] = limit
        result = await self.call(method, [address, config])
        check = _Check(self.name, method)
        out: list[SignatureInfo] = []
        for i, item in enumerate(check.lst(result, "result")):
            path = f"result[{i}]"
            entry = check.obj(item, path)
            out.append(
                SignatureInfo(
                    signature=check.str_(check.key(entry, "signature", path), f"{path}.signature"),
                    slot=check.int_(check.key(entry, "slot", path), f"{path}.slot"),
                    err=entry.get("err"),
                    block_time=check.opt_int(entry.get("blockTime"), f"{path}.blockTime"),
                    confirmation_status=check.opt_str(
                        entry.get("confirmationStatus"), f"{path}.confirmationStatus"
                    ),
                    memo=check.opt_str(entry.get("memo"), f"{path}.memo"),
                )
            )
        return out

    def _account(self, check: _Check, pubkey: str, value: Any, path: str) -> AccountInfo | None:
        if value is None:
            return None
        v = check.obj(value, path)
        return AccountInfo(
            pubkey=pubkey,
            lamports=check.int_(check.key(v, "lamports", path), f"{path}.lamports"),
            owner=check.str_(check.key(v, "owner", path), f"{path}.owner"),
            data=check.b64(check.key(v, "data", path), f"{path}.data"),
            executable=check.bool_(check.key(v, "executable", path), f"{path}.executable"),
            rent_epoch=check.int_(check.key(v, "rentEpoch", path), f"{path}.rentEpoch"),
            space=check.opt_int(v.get("space"), f"{path}.space"),
        )

    async def get_account_info(
        self, pubkey: str, *, commitment: Commitment | None = None
    ) -> AccountInfo | None:
        """An account's raw data (base64 encoding), or None when it does not exist."""
        method = "getAccountInfo"
        result = await self.call(
            method, [pubkey, {"encoding": "base64", "commitment": self._commitment(commitment)}]
        )
        check = _Check(self.name, method)
        _, value = check.context_value(result)
        return self._account(check, pubkey, value, "result.value")

    async def get_account_info_parsed(
        self, pubkey: str, *, commitment: Commitment | None = None
    ) -> ParsedAccountInfo | None:
        """An account with ``jsonParsed`` encoding (token mints and accounts come parsed)."""
        method = "getAccountInfo"
        result = await self.call(
            method, [pubkey, {"encoding": "jsonParsed", "commitment": self._commitment(commitment)}]
        )
        check = _Check(self.name, method)
        _, value = check.context_value(result)
        if value is None:
            return None
        path = "result.value"
        v = check.obj(value, path)
        data = check.key(v, "data", path)
        parsed: dict[str, Any] | None = None
        program: str | None = None
        raw: bytes | None = None
        if isinstance(data, dict):
            program = check.str_(check.key(data, "program", f"{path}.data"), f"{path}.data.program")
            parsed = check.obj(check.key(data, "parsed", f"{path}.data"), f"{path}.data.parsed")
        else:
            raw = check.b64(data, f"{path}.data")
        return ParsedAccountInfo(
            pubkey=pubkey,
            lamports=check.int_(check.key(v, "lamports", path), f"{path}.lamports"),
            owner=check.str_(check.key(v, "owner", path), f"{path}.owner"),
            executable=check.bool_(check.key(v, "executable", path), f"{path}.executable"),
            rent_epoch=check.int_(check.key(v, "rentEpoch", path), f"{path}.rentEpoch"),
            space=check.opt_int(v.get("space"), f"{path}.space"),
            program=program,
            parsed=parsed,
            data=raw,
        )

    async def get_multiple_accounts(
        self, pubkeys: Sequence[str], *, commitment: Commitment | None = None
    ) -> list[AccountInfo | None]:
        """Several accounts (base64), in request order; chunks of 100 as the node requires."""
        method = "getMultipleAccounts"
        check = _Check(self.name, method)
        out: list[AccountInfo | None] = []
        for start in range(0, len(pubkeys), MAX_ACCOUNTS_PER_CALL):
            chunk = list(pubkeys[start : start + MAX_ACCOUNTS_PER_CALL])
            result = await self.call(
                method,
                [chunk, {"encoding": "base64", "commitment": self._commitment(commitment)}],
            )
            _, value = check.context_value(result)
            values = check.lst(value, "result.value")
            if len(values) != len(chunk):
                raise check.fail("result.value", f"an array of {len(chunk)} accounts", values)
            for i, (key, item) in enumerate(zip(chunk, values, strict=True)):
                out.append(self._account(check, key, item, f"result.value[{i}]"))
        return out

    async def get_token_largest_accounts(
        self, mint: str, *, commitment: Commitment | None = None
    ) -> list[TokenAccountBalance]:
        """The 20 largest token accounts of ``mint``, largest first."""
        method = "getTokenLargestAccounts"
        result = await self.call(method, [mint, {"commitment": self._commitment(commitment)}])
        check = _Check(self.name, method)
        _, value = check.context_value(result)
        out: list[TokenAccountBalance] = []
        for i, item in enumerate(check.lst(value, "result.value")):
            path = f"result.value[{i}]"
            e = check.obj(item, path)
            out.append(
                TokenAccountBalance(
                    address=check.str_(check.key(e, "address", path), f"{path}.address"),
                    amount=check.uint_str(check.key(e, "amount", path), f"{path}.amount"),
                    decimals=check.int_(check.key(e, "decimals", path), f"{path}.decimals"),
                )
            )
        return out

    async def get_token_supply(
        self, mint: str, *, commitment: Commitment | None = None
    ) -> TokenAmount:
        """Total supply of ``mint`` in raw units with its decimals."""
        method = "getTokenSupply"
        result = await self.call(method, [mint, {"commitment": self._commitment(commitment)}])
        check = _Check(self.name, method)
        _, value = check.context_value(result)
        v = check.obj(value, "result.value")
        return TokenAmount(
            amount=check.uint_str(check.key(v, "amount", "result.value"), "result.value.amount"),
            decimals=check.int_(check.key(v, "decimals", "result.value"), "result.value.decimals"),
        )

    async def get_latest_blockhash(
        self, *, commitment: Commitment | None = None
    ) -> LatestBlockhash:
        """A recent blockhash to build a transaction with, and its expiry block height."""
        method = "getLatestBlockhash"
        result = await self.call(method, [{"commitment": self._commitment(commitment)}])
        check = _Check(self.name, method)
        slot, value = check.context_value(result)
        v = check.obj(value, "result.value")
        return LatestBlockhash(
            blockhash=check.str_(
                check.key(v, "blockhash", "result.value"), "result.value.blockhash"
            ),
            last_valid_block_height=check.int_(
                check.key(v, "lastValidBlockHeight", "result.value"),
                "result.value.lastValidBlockHeight",
            ),
            context_slot=slot,
        )

    async def simulate_transaction(
        self,
        tx: Any,
        *,
        sig_verify: bool = False,
        replace_recent_blockhash: bool = False,
        commitment: Commitment | None = None,
    ) -> SimulationResult:
        """Simulate a (base64 / bytes / solders) versioned transaction without sending it."""
        method = "simulateTransaction"
        config: dict[str, Any] = {
            "encoding": "base64",
            "sigVerify": sig_verify,
            "replaceRecentBlockhash": replace_recent_blockhash,
            "commitment": self._commitment(commitment),
        }
        result = await self.call(method, [_encode_tx(tx), config])
        check = _Check(self.name, method)
        slot, value = check.context_value(result)
        v = check.obj(value, "result.value")
        logs_raw = v.get("logs")
        logs = (
            [check.str_(x, f"result.value.logs[{i}]") for i, x in enumerate(logs_raw)]
            if isinstance(logs_raw, list)
            else []
        )
        return SimulationResult(
            err=v.get("err"),
            logs=logs,
            units_consumed=check.opt_int(v.get("unitsConsumed"), "result.value.unitsConsumed"),
            context_slot=slot,
        )

    async def send_transaction(
        self,
        tx: Any,
        *,
        skip_preflight: bool = False,
        preflight_commitment: Commitment | None = None,
        max_retries: int | None = None,
    ) -> str:
        """Submit a signed transaction; returns its signature (preflight failure raises)."""
        method = "sendTransaction"
        config: dict[str, Any] = {
            "encoding": "base64",
            "skipPreflight": skip_preflight,
            "preflightCommitment": self._commitment(preflight_commitment),
        }
        if max_retries is not None:
            config["maxRetries"] = max_retries
        result = await self.call(method, [_encode_tx(tx), config])
        return _Check(self.name, method).str_(result, "result")

    async def get_signature_statuses(
        self, signatures: Sequence[str], *, search_transaction_history: bool = False
    ) -> list[SignatureStatus | None]:
        """Statuses of up to any number of signatures (chunked by 256), None when unknown."""
        method = "getSignatureStatuses"
        check = _Check(self.name, method)
        out: list[SignatureStatus | None] = []
        for start in range(0, len(signatures), MAX_SIGNATURES_PER_STATUS_CALL):
            chunk = list(signatures[start : start + MAX_SIGNATURES_PER_STATUS_CALL])
            result = await self.call(
                method, [chunk, {"searchTransactionHistory": search_transaction_history}]
            )
            _, value = check.context_value(result)
            values = check.lst(value, "result.value")
            if len(values) != len(chunk):
                raise check.fail("result.value", f"an array of {len(chunk)} statuses", values)
            for i, item in enumerate(values):
                if item is None:
                    out.append(None)
                    continue
                path = f"result.value[{i}]"
                e = check.obj(item, path)
                out.append(
                    SignatureStatus(
                        slot=check.int_(check.key(e, "slot", path), f"{path}.slot"),
                        confirmations=check.opt_int(
                            e.get("confirmations"), f"{path}.confirmations"
                        ),
                        err=e.get("err"),
                        confirmation_status=check.opt_str(
                            e.get("confirmationStatus"), f"{path}.confirmationStatus"
                        ),
                    )
                )
        return out

    async def get_slot(self, *, commitment: Commitment | None = None) -> int:
        """The node's current slot at the given commitment."""
        method = "getSlot"
        result = await self.call(method, [{"commitment": self._commitment(commitment)}])
        return _Check(self.name, method).int_(result, "result")

    async def get_health(self) -> str:
        """``"ok"`` when the node is healthy; an unhealthy node raises (never retried)."""
        method = "getHealth"
        result = await self.call(method, [], retry=False)
        return _Check(self.name, method).str_(result, "result")
