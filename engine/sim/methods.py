"""JSON-RPC methods of the simulated node, answering from the ledger and the chain state with the
shapes (and error codes) agave's RPC uses.
"""

from __future__ import annotations

import base64
import logging
import random
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import base58
from solders.transaction import VersionedTransaction

from engine.chain import programs as P
from engine.sim.chain import ChainError, Ctx
from engine.sim.keys import blockhash_for_slot
from engine.sim.tx import SimTx, transaction_json, ui_amount

if TYPE_CHECKING:
    from engine.sim.server import SimServer

logger = logging.getLogger(__name__)

API_VERSION: Final = "2.3.6"
BLOCK_HEIGHT_OFFSET: Final = 21_544_318  # slots skipped before the start: height < slot
FINALIZED_DEPTH: Final = 32
MAX_LIMIT: Final = 1000


class RpcFault(Exception):
    """A JSON-RPC error to return: ``code``, ``message`` and optional ``data``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data


def _invalid(message: str) -> RpcFault:
    return RpcFault(-32602, message)


def _config(params: list[Any], index: int) -> dict[str, Any]:
    if len(params) > index and params[index] is not None:
        cfg = params[index]
        if not isinstance(cfg, dict):
            raise _invalid(f"Invalid params: config must be an object, got {cfg!r:.40}")
        return cfg
    return {}


def _pubkey_param(params: list[Any], index: int = 0) -> str:
    if len(params) <= index or not isinstance(params[index], str):
        raise _invalid("Invalid params: missing or malformed pubkey")
    value: str = params[index]
    try:
        raw = base58.b58decode(value)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise _invalid("Invalid param: Invalid")
    return value


class RpcMethods:
    """Dispatches one JSON-RPC call to a handler."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self._user_rng = random.Random(f"solai-sim:{server.seed}:user-tx")  # noqa: S311
        self._handlers: dict[str, Callable[[list[Any]], Any]] = {
            "getTransaction": self.get_transaction,
            "getSignaturesForAddress": self.get_signatures_for_address,
            "getAccountInfo": self.get_account_info,
            "getMultipleAccounts": self.get_multiple_accounts,
            "getBalance": self.get_balance,
            "getTokenLargestAccounts": self.get_token_largest_accounts,
            "getTokenSupply": self.get_token_supply,
            "getLatestBlockhash": self.get_latest_blockhash,
            "getSignatureStatuses": self.get_signature_statuses,
            "simulateTransaction": self.simulate_transaction,
            "sendTransaction": self.send_transaction,
            "getSlot": self.get_slot,
            "getBlockHeight": self.get_block_height,
            "getHealth": self.get_health,
            "getVersion": self.get_version,
            "simControl": self.sim_control,
        }

    def call(self, method: str, params: Any) -> Any:
        """Run ``method``; raises :class:`RpcFault` for JSON-RPC errors."""
        handler = self._handlers.get(method)
        if handler is None:
            raise RpcFault(-32601, "Method not found")
        if params is None:
            params = []
        if not isinstance(params, list):
            raise _invalid("Invalid params: expected an array")
        return handler(params)

    # -- helpers --------------------------------------------------------------------------

    @property
    def slot(self) -> int:
        """The node's current slot."""
        return self.server.current_slot

    def _context(self, value: Any) -> dict[str, Any]:
        return {"context": {"apiVersion": API_VERSION, "slot": self.slot}, "value": value}

    def _status(self, tx: SimTx) -> dict[str, Any]:
        depth = self.slot - tx.slot
        finalized = depth >= FINALIZED_DEPTH
        return {
            "slot": tx.slot,
            "confirmations": None if finalized else max(0, depth),
            "err": tx.err,
            "status": {"Ok": None} if tx.err is None else {"Err": tx.err},
            "confirmationStatus": "finalized" if finalized else "confirmed",
        }

    # -- reads ----------------------------------------------------------------------------

    def get_transaction(self, params: list[Any]) -> Any:
        """getTransaction: json / jsonParsed / base64; v0 needs maxSupportedTransactionVersion."""
        if not params or not isinstance(params[0], str):
            raise _invalid("Invalid params: missing signature")
        cfg = _config(params, 1)
        if cfg.get("commitment") == "processed":
            raise _invalid("Method does not support commitment below `confirmed`")
        encoding = cfg.get("encoding", "json")
        if encoding not in ("json", "jsonParsed", "base64"):
            raise _invalid(f"Invalid params: unsupported encoding {encoding!r}")
        tx = self.server.ledger.get(params[0])
        if tx is None:
            return None
        if cfg.get("maxSupportedTransactionVersion") is None:
            raise RpcFault(
                -32015,
                "Transaction version (0) is not supported by the requesting client. Please try "
                "the request again with the following configuration parameter: "
                '"maxSupportedTransactionVersion": 0',
            )
        return transaction_json(tx, encoding)

    def get_signatures_for_address(self, params: list[Any]) -> Any:
        """getSignaturesForAddress: newest first, ``before``/``until``/``limit``."""
        address = _pubkey_param(params)
        cfg = _config(params, 1)
        limit = cfg.get("limit", MAX_LIMIT)
        if type(limit) is not int or not 1 <= limit <= MAX_LIMIT:
            raise _invalid(f"Invalid limit; max {MAX_LIMIT}")
        txs = self.server.ledger.signatures_for(
            address, before=cfg.get("before"), until=cfg.get("until"), limit=limit
        )
        out = []
        for tx in txs:
            status = self._status(tx)
            out.append(
                {
                    "signature": tx.signature,
                    "slot": tx.slot,
                    "err": tx.err,
                    "memo": None,
                    "blockTime": tx.block_time,
                    "confirmationStatus": status["confirmationStatus"],
                }
            )
        return out

    def _account_json(self, address: str, encoding: str) -> dict[str, Any] | None:
        if self.server.account_hidden(address):
            return None
        view = self.server.chain.account_view(address)
        if view is None:
            return None
        out: dict[str, Any] = {
            "data": None,
            "executable": view.executable,
            "lamports": view.lamports,
            "owner": view.owner,
            "rentEpoch": 18_446_744_073_709_551_615,
            "space": len(view.data),
        }
        if encoding == "jsonParsed" and view.parsed is not None:
            out["data"] = {"parsed": view.parsed, "program": view.program, "space": len(view.data)}
        elif encoding == "base58":
            out["data"] = [base58.b58encode(view.data).decode(), "base58"]
        else:
            out["data"] = [base64.b64encode(view.data).decode(), "base64"]
        return out

    def get_account_info(self, params: list[Any]) -> Any:
        """getAccountInfo: base64 (default), base58 or jsonParsed for token mints/accounts."""
        address = _pubkey_param(params)
        encoding = _config(params, 1).get("encoding", "base64")
        if encoding not in ("base64", "base58", "jsonParsed"):
            raise _invalid(f"Invalid params: unsupported encoding {encoding!r}")
        return self._context(self._account_json(address, encoding))

    def get_multiple_accounts(self, params: list[Any]) -> Any:
        """getMultipleAccounts: up to 100 keys."""
        if not params or not isinstance(params[0], list):
            raise _invalid("Invalid params: expected an array of pubkeys")
        keys = params[0]
        if len(keys) > 100:
            raise _invalid("Too many inputs provided; max 100")
        encoding = _config(params, 1).get("encoding", "base64")
        return self._context(
            [self._account_json(_pubkey_param(keys, i), encoding) for i in range(len(keys))]
        )

    def get_balance(self, params: list[Any]) -> Any:
        """getBalance."""
        return self._context(self.server.chain.lamports_of(_pubkey_param(params)))

    def get_token_largest_accounts(self, params: list[Any]) -> Any:
        """getTokenLargestAccounts: the 20 largest holders."""
        mint = _pubkey_param(params)
        m = self.server.chain.mints.get(mint)
        if m is None or self.server.account_hidden(mint, consume=False):
            raise _invalid("Invalid param: not a Token mint")
        out = []
        for acct in self.server.chain.largest_accounts(mint):
            ui, text = ui_amount(acct.amount, m.decimals)
            out.append(
                {
                    "address": acct.address,
                    "amount": str(acct.amount),
                    "decimals": m.decimals,
                    "uiAmount": ui if ui is not None else 0.0,
                    "uiAmountString": text,
                }
            )
        return self._context(out)

    def get_token_supply(self, params: list[Any]) -> Any:
        """getTokenSupply."""
        mint = _pubkey_param(params)
        m = self.server.chain.mints.get(mint)
        if m is None or self.server.account_hidden(mint, consume=False):
            raise _invalid("Invalid param: not a Token mint")
        ui, text = ui_amount(m.supply, m.decimals)
        return self._context(
            {
                "amount": str(m.supply),
                "decimals": m.decimals,
                "uiAmount": ui if ui is not None else 0.0,
                "uiAmountString": text,
            }
        )

    def get_latest_blockhash(self, params: list[Any]) -> Any:
        """getLatestBlockhash: valid for 150 blocks."""
        slot = self.slot
        return self._context(
            {
                "blockhash": blockhash_for_slot(self.server.seed, slot),
                "lastValidBlockHeight": slot - BLOCK_HEIGHT_OFFSET + 150,
            }
        )

    def get_signature_statuses(self, params: list[Any]) -> Any:
        """getSignatureStatuses: up to 256 signatures; ``processed`` before confirmation,
        ``null`` for unknown and processed-only (dropped) ones.

        ``searchTransactionHistory`` is accepted; the ledger is both the status cache and the
        history here, so it changes nothing.
        """
        if not params or not isinstance(params[0], list):
            raise _invalid("Invalid params: expected an array of signatures")
        if len(params[0]) > 256:
            raise _invalid("Too many inputs provided; max 256")
        cfg = _config(params, 1)
        search = cfg.get("searchTransactionHistory", False)
        if not isinstance(search, bool):
            raise _invalid("Invalid params: searchTransactionHistory must be a boolean")
        unconfirmed = self.server.unconfirmed
        out: list[Any] = []
        for sig in params[0]:
            if not isinstance(sig, str):
                raise _invalid(f"Invalid param: {sig!r:.40} is not a signature")
            tx = self.server.ledger.get(sig)
            if tx is not None:
                out.append(self._status(tx))
                continue
            pending = unconfirmed.get(sig)
            if pending is None:
                out.append(None)
                continue
            out.append(
                {
                    "slot": pending.slot,
                    "confirmations": 0,
                    "err": pending.err,
                    "status": {"Ok": None} if pending.err is None else {"Err": pending.err},
                    "confirmationStatus": "processed",
                }
            )
        return self._context(out)

    def get_slot(self, params: list[Any]) -> Any:
        """getSlot."""
        return self.slot

    def get_block_height(self, params: list[Any]) -> Any:
        """getBlockHeight."""
        return self.slot - BLOCK_HEIGHT_OFFSET

    def get_health(self, params: list[Any]) -> Any:
        """getHealth: "ok", or -32005 while the fault injector says the node is behind."""
        behind = self.server.faults.unhealthy_slots
        if behind:
            raise RpcFault(-32005, f"Node is behind by {behind} slots", {"numSlotsBehind": behind})
        return "ok"

    def get_version(self, params: list[Any]) -> Any:
        """getVersion."""
        return {"feature-set": 3294202862, "solana-core": API_VERSION}

    # -- transactions ---------------------------------------------------------------------

    def _decode_tx(self, params: list[Any]) -> tuple[VersionedTransaction, dict[str, Any]]:
        if not params or not isinstance(params[0], str):
            raise _invalid("Invalid params: missing transaction")
        cfg = _config(params, 1)
        encoding = cfg.get("encoding", "base58")
        try:
            raw = (
                base64.b64decode(params[0], validate=True)
                if encoding == "base64"
                else base58.b58decode(params[0])
            )
            tx = VersionedTransaction.from_bytes(raw)
        except ValueError as exc:
            raise _invalid(f"failed to deserialize VersionedTransaction: {exc}") from exc
        return tx, cfg

    def _execute(self, tx: VersionedTransaction, *, dry_run: bool) -> SimTx:
        """Run a submitted transaction against the chain (pump/PumpSwap ops are modelled)."""
        chain = self.server.chain
        msg = tx.message
        keys = [str(k) for k in msg.account_keys]
        compiled = [
            (ix.program_id_index, bytes(ix.accounts), bytes(ix.data)) for ix in msg.instructions
        ]
        if any(p >= len(keys) or any(i >= len(keys) for i in a) for p, a, _ in compiled):
            # Keys loaded from address lookup tables: the simulator holds no tables to resolve.
            raise _invalid("transactions using address lookup tables are not supported here")
        payer = keys[0]
        signature = str(tx.signatures[0])
        ctx = chain.ctx(self.server.current_t_ms, signature=signature, rng=self._user_rng)
        for program_index, account_indexes, data in compiled:
            accounts = [keys[i] for i in account_indexes]
            result = self._modelled(ctx, keys[program_index], accounts, data, dry_run=dry_run)
            if result is not None:
                return result
        header = msg.header
        n_signed = header.num_required_signatures
        writable_signed = n_signed - header.num_readonly_signed_accounts
        writable_end = len(keys) - header.num_readonly_unsigned_accounts
        metas = [
            (k, i < n_signed, i < writable_signed or n_signed <= i < writable_end)
            for i, k in enumerate(keys)
        ]
        instructions = [(keys[p], tuple(keys[i] for i in a), data) for p, a, data in compiled]
        return chain.op_generic(
            ctx, payer=payer, keys=metas, instructions=instructions, dry_run=dry_run
        )

    def _modelled(
        self, ctx: Ctx, program: str, accounts: list[str], data: bytes, *, dry_run: bool
    ) -> SimTx | None:
        chain = self.server.chain
        disc = data[:8]
        if program == P.PUMP_PROGRAM and len(accounts) >= 7 and len(data) >= 24:
            mint, user = accounts[2], accounts[6]
            a, b = struct.unpack_from("<QQ", data, 8)
            if disc == P.PUMP_IX_BUY:
                return chain.op_curve_buy(
                    ctx, user=user, mint=mint, lamports=b, exact_tokens=a, dry_run=dry_run
                )
            if disc == P.PUMP_IX_BUY_EXACT_SOL_IN:
                return chain.op_curve_buy(ctx, user=user, mint=mint, lamports=a, dry_run=dry_run)
            if disc == P.PUMP_IX_SELL:
                return chain.op_curve_sell(ctx, user=user, mint=mint, tokens=a, dry_run=dry_run)
        if program == P.PUMPSWAP_PROGRAM and len(accounts) >= 4 and len(data) >= 24:
            user, mint = accounts[1], accounts[3]
            a, b = struct.unpack_from("<QQ", data, 8)
            if disc == P.PUMPSWAP_IX_BUY:
                return chain.op_pool_buy(
                    ctx, user=user, mint=mint, lamports=b, exact_base_out=a, dry_run=dry_run
                )
            if disc == P.PUMPSWAP_IX_BUY_EXACT_QUOTE_IN:
                return chain.op_pool_buy(ctx, user=user, mint=mint, lamports=a, dry_run=dry_run)
            if disc == P.PUMPSWAP_IX_SELL:
                return chain.op_pool_sell(ctx, user=user, mint=mint, tokens=a, dry_run=dry_run)
        return None

    def _run_or_fault(self, tx: VersionedTransaction, *, dry_run: bool) -> SimTx | dict[str, Any]:
        try:
            return self._execute(tx, dry_run=dry_run)
        except ChainError as exc:
            # What the program would have logged before failing, in the shape of an
            # InstructionError, so callers see a simulation failure rather than an RPC error.
            return {
                "err": {"InstructionError": [0, {"Custom": 1}]},
                "logs": [f"Program log: Error: {exc}"],
            }

    def simulate_transaction(self, params: list[Any]) -> Any:
        """simulateTransaction: runs the transaction on a throw-away copy of the state."""
        tx, cfg = self._decode_tx(params)
        if cfg.get("sigVerify") and not all(tx.verify_with_results()):
            raise RpcFault(-32003, "Transaction signature verification failure")
        result = self._run_or_fault(tx, dry_run=True)
        if isinstance(result, dict):
            err, logs, units = result["err"], result["logs"], 0
        else:
            err, logs, units = result.err, result.logs, result.compute_units
        return self._context(
            {
                "accounts": None,
                "err": err,
                "innerInstructions": None,
                "loadedAccountsDataSize": 0,
                "logs": logs,
                "replacementBlockhash": None,
                "returnData": None,
                "unitsConsumed": units,
            }
        )

    def send_transaction(self, params: list[Any]) -> Any:
        """sendTransaction: preflight (unless skipped), then land it in the next emission."""
        tx, cfg = self._decode_tx(params)
        signature = str(tx.signatures[0])
        if self.server.ledger.get(signature) is not None or signature in self.server.unconfirmed:
            return signature  # a resend of a landed transaction is a no-op, as on mainnet
        if not cfg.get("skipPreflight", False):
            pre = self._run_or_fault(tx, dry_run=True)
            err, logs = (pre["err"], pre["logs"]) if isinstance(pre, dict) else (pre.err, pre.logs)
            if err is not None:
                index, detail = err["InstructionError"]
                code = detail.get("Custom") if isinstance(detail, dict) else None
                reason = f"custom program error: {code:#x}" if code is not None else str(detail)
                raise RpcFault(
                    -32002,
                    "Transaction simulation failed: "
                    f"Error processing Instruction {index}: {reason}",
                    {
                        "accounts": None,
                        "err": err,
                        "innerInstructions": None,
                        "logs": logs,
                        "replacementBlockhash": None,
                        "returnData": None,
                        "unitsConsumed": 0 if isinstance(pre, dict) else pre.compute_units,
                    },
                )
        landed = self._run_or_fault(tx, dry_run=False)
        if isinstance(landed, SimTx):
            self.server.publish_now(landed)
        return signature

    # -- control --------------------------------------------------------------------------

    def sim_control(self, params: list[Any]) -> Any:
        """simControl: fault injection and stepping for tests (not a Solana method)."""
        cfg = _config(params, 0)
        action = cfg.get("action")
        if not isinstance(action, str):
            raise _invalid('simControl needs {"action": …}')
        try:
            return self.server.control(action, cfg)
        except (KeyError, TypeError, ValueError) as exc:
            raise _invalid(f"simControl {action}: {exc}") from exc
