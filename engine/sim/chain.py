"""The simulated chain: accounts, mints, bonding curves and pools, and the operations that turn a
scenario's intents into transactions built the way the real programs execute them.

Every operation records its state changes in a :class:`Journal` while it builds the invocation
tree, so a failing or simulated transaction can be rolled back exactly, and pre/post balances
come from the journal rather than being recomputed. Amounts are raw integers throughout.
"""

from __future__ import annotations

import base64
import copy
import logging
import random
import struct
from array import array
from dataclasses import dataclass, field, replace
from typing import Any, Final

from engine.chain import programs as P
from engine.chain.accounts import (
    BondingCurveAccount,
    MetadataPointer,
    MintInfo,
    PoolAccount,
    TokenMetadata,
    TransferFee,
    TransferFeeConfig,
    encode_bonding_curve,
    encode_mint,
    encode_pool,
    encode_token_account,
)
from engine.chain.programs import rent_exempt_lamports
from engine.events import ChainEvent
from engine.sim import encode as enc
from engine.sim import keys as K
from engine.sim.curve import (
    curve_buy_exact_sol_in,
    curve_buy_tokens,
    curve_sell,
    fee,
    initial_liquidity,
    pool_base_out_for_quote,
    pool_buy_base_out,
    pool_sell,
)
from engine.sim.keys import KeyStream, blockhash_for_slot
from engine.sim.tx import (
    LAMPORTS_PER_SIGNATURE,
    Fail,
    Inv,
    SimTx,
    TokenBalance,
    TxBuilder,
    compile_ix,
    logs_notification_body,
    render_execution,
    ui_amount,
)

logger = logging.getLogger(__name__)

SLOT_MS: Final = 400
TOKEN_ERROR_ACCOUNT_FROZEN: Final = 17  # spl-token TokenError::AccountFrozen
FROZEN_LOG: Final = "Program log: Error: Account is frozen"

# Lamports of well-known accounts as mainnet showed them in 2026 (the recorded fixtures); the
# fee recipients' balances then grow with every trade, as on chain.
KNOWN_LAMPORTS: Final[dict[str, int]] = {
    P.SYSTEM_PROGRAM: 1,
    P.COMPUTE_BUDGET_PROGRAM: 1,
    P.TOKEN_PROGRAM: 58_238_313,
    P.TOKEN_2022_PROGRAM: 70_128_637,
    P.ASSOCIATED_TOKEN_PROGRAM: 3_388_605_256,
    P.PUMP_PROGRAM: 8_502_112_342,
    P.PUMPSWAP_PROGRAM: 109_153_251,
    P.PUMP_FEE_PROGRAM: 6_046_720,
    P.MAYHEM_PROGRAM: 11_149_834,
    P.METAPLEX_METADATA_PROGRAM: 1_141_440,
    P.RENT_SYSVAR: 1_009_200,
    P.WSOL_MINT: 1_630_911_579_072,
    P.PUMP_GLOBAL: 4_089_612_038,
    P.PUMP_EVENT_AUTHORITY: 168_261_371,
    P.PUMP_MINT_AUTHORITY: 1_020_235_880,
    P.PUMP_GLOBAL_VOLUME_ACCUMULATOR: 17_016_138,
    P.PUMP_FEE_CONFIG: 37_290_293,
    P.PUMPSWAP_EVENT_AUTHORITY: 1_002_026,
    P.PUMPSWAP_GLOBAL_CONFIG: 4_457_517,
    P.PUMPSWAP_GLOBAL_VOLUME_ACCUMULATOR: 25_068_899,
    P.PUMPSWAP_FEE_CONFIG: 18_374_410,
    P.PUMP_FEE_RECIPIENTS[0]: 23_556_978_269_591,
    P.PUMP_FEE_RECIPIENTS[1]: 333_200_799_128_525,
    P.PUMP_MIGRATION_AUTHORITY: 912_337_601_412,
}
EXECUTABLE: Final = frozenset(
    {
        P.SYSTEM_PROGRAM,
        P.COMPUTE_BUDGET_PROGRAM,
        P.TOKEN_PROGRAM,
        P.TOKEN_2022_PROGRAM,
        P.ASSOCIATED_TOKEN_PROGRAM,
        P.PUMP_PROGRAM,
        P.PUMPSWAP_PROGRAM,
        P.PUMP_FEE_PROGRAM,
        P.MAYHEM_PROGRAM,
        P.METAPLEX_METADATA_PROGRAM,
    }
)
# Half of the protocol fee goes to the buyback recipient (TradeEvent.buyback_fee_basis_points
# is 5000 in 2026 mainnet events, and the split shows in the system transfers).
PUMP_BUYBACK_RECIPIENT: Final = "A7hAgCzFw14fejgCp387JUJRMNyz4j89JKnhtKU8piqW"
PUMP_BUYBACK_SHARE_BPS: Final = 5000
# create_v2 events of SOL-quoted coins carry this in virtual_quote_reserves (observed 2026).
CREATE_EVENT_VIRTUAL_QUOTE_RESERVES: Final = 117_187_500
PUMPSWAP_PROTOCOL_FEE_RECIPIENT: Final = P.PUMP_FEE_RECIPIENTS[0]
POOL_LP_DECIMALS: Final = 9


class ChainError(ValueError):
    """An operation cannot be built (unknown mint, nothing to sell, curve complete, …)."""


@dataclass(slots=True)
class TokenAcct:
    """An SPL token account."""

    address: str
    mint: str
    owner: str
    program: str
    amount: int
    frozen: bool = False
    native: bool = False


@dataclass(slots=True)
class MintState:
    """A mint and the metadata the simulator keeps for it."""

    address: str
    program: str
    decimals: int
    supply: int
    mint_authority: str | None
    freeze_authority: str | None
    name: str
    symbol: str
    uri: str
    creator: str
    transfer_fee_bps: int | None = None
    transfer_fee_max: int = 0
    metadata_in_mint: bool = False

    def info(self) -> MintInfo:
        """The mint as :func:`encode_mint` writes it."""
        fee_config = None
        if self.transfer_fee_bps is not None:
            tf = TransferFee(0, self.transfer_fee_max, self.transfer_fee_bps)
            fee_config = TransferFeeConfig(self.creator, self.creator, 0, tf, tf)
        pointer = metadata = None
        if self.metadata_in_mint:
            pointer = MetadataPointer(None, self.address)
            metadata = TokenMetadata(None, self.address, self.name, self.symbol, self.uri)
        return MintInfo(
            self.mint_authority,
            self.supply,
            self.decimals,
            True,
            self.freeze_authority,
            fee_config,
            pointer,
            metadata,
        )

    def data(self) -> bytes:
        """Raw account data."""
        return encode_mint(self.info(), token_2022=self.program == P.TOKEN_2022_PROGRAM)

    def transfer_fee(self, amount: int) -> int:
        """The Token-2022 transfer fee withheld on a transfer of ``amount``."""
        if not self.transfer_fee_bps:
            return 0
        return min(fee(amount, self.transfer_fee_bps), self.transfer_fee_max or amount)


@dataclass(slots=True)
class CurveState:
    """A pump.fun bonding curve."""

    mint: str
    address: str
    vault: str
    creator: str
    token_program: str
    virtual_tokens: int
    virtual_sol: int
    real_tokens: int
    real_sol: int
    supply: int
    complete: bool = False
    migrated: bool = False
    cashback: bool = False

    def account(self) -> BondingCurveAccount:
        """The account as the program stores it."""
        return BondingCurveAccount(
            self.virtual_tokens,
            self.virtual_sol,
            self.real_tokens,
            self.real_sol,
            self.supply,
            self.complete,
            self.creator,
            False,
            self.cashback,
            P.SYSTEM_PROGRAM,
        )


@dataclass(slots=True)
class PoolState:
    """A PumpSwap pool (base = the token, quote = WSOL)."""

    address: str
    bump: int
    index: int
    creator: str
    base_mint: str
    quote_mint: str
    lp_mint: str
    base_vault: str
    quote_vault: str
    coin_creator: str
    lp_supply: int
    base_program: str

    def account(self) -> PoolAccount:
        """The account as the program stores it."""
        return PoolAccount(
            self.bump,
            self.index,
            self.creator,
            self.base_mint,
            self.quote_mint,
            self.lp_mint,
            self.base_vault,
            self.quote_vault,
            self.lp_supply,
            self.coin_creator,
        )


@dataclass(frozen=True, slots=True)
class AccountView:
    """What getAccountInfo returns about one account."""

    lamports: int
    owner: str
    data: bytes
    executable: bool
    parsed: dict[str, Any] | None = None
    program: str | None = None


@dataclass(frozen=True, slots=True)
class Ctx:
    """When and under which signature an operation runs."""

    t_ms: int
    slot: int
    block_time: int
    signature: str
    blockhash: str
    rng: random.Random
    extra_signatures: tuple[str, ...] = ()


_MISSING: Final = object()


@dataclass(slots=True)
class Journal:
    """State changes of one transaction, with the values they replaced (for pre-balances and
    for rolling a failed or simulated transaction back)."""

    chain: Chain
    lamports_pre: dict[str, int] = field(default_factory=dict)
    tokens_pre: dict[str, TokenAcct | None] = field(default_factory=dict)
    objects: list[tuple[Any, Any]] = field(default_factory=list)

    def lamports(self, address: str) -> int:
        """Current lamports of an account."""
        return self.chain.lamports_of(address)

    def add(self, address: str, delta: int) -> None:
        """Credit (or debit, when negative) an account."""
        lam = self.chain.lamports
        current = lam[address] if address in lam else self.chain.lamports_of(address)
        if address not in self.lamports_pre:
            self.lamports_pre[address] = current
        if current + delta < 0:
            raise ChainError(f"{address} would go below zero lamports")
        lam[address] = current + delta

    def move(self, src: str, dst: str, amount: int) -> None:
        """Move lamports between accounts."""
        self.add(src, -amount)
        self.add(dst, amount)

    def _touch_token(self, address: str) -> None:
        if address not in self.tokens_pre:
            a = self.chain.tokens.get(address)
            self.tokens_pre[address] = (
                TokenAcct(a.address, a.mint, a.owner, a.program, a.amount, a.frozen, a.native)
                if a is not None
                else None
            )

    def token_create(self, address: str, mint: str, owner: str, program: str) -> TokenAcct:
        """Initialize a token account (its rent is moved by the caller)."""
        self._touch_token(address)
        acct = TokenAcct(address, mint, owner, program, 0, native=mint == P.WSOL_MINT)
        self.chain.add_token_account(acct)
        return acct

    def token_add(self, address: str, delta: int) -> None:
        """Change a token balance; native (WSOL) accounts hold their amount as lamports too."""
        self._touch_token(address)
        acct = self.chain.tokens[address]
        if acct.amount + delta < 0:
            raise ChainError(f"token account {address} would go negative")
        acct.amount += delta
        if acct.native:
            self.add(address, delta)

    def sync_native(self, address: str) -> None:
        """SyncNative: a WSOL account's amount becomes its lamports above rent."""
        self._touch_token(address)
        acct = self.chain.tokens[address]
        acct.amount = self.lamports(address) - rent_exempt_lamports(P.TOKEN_ACCOUNT_LEN)

    def token_close(self, address: str, destination: str) -> None:
        """CloseAccount: lamports go to ``destination`` and the account disappears."""
        self._touch_token(address)
        self.move(address, destination, self.lamports(address))
        self.chain.remove_token_account(address)

    def set_frozen(self, address: str, frozen: bool) -> None:
        """FreezeAccount / ThawAccount."""
        self._touch_token(address)
        self.chain.tokens[address].frozen = frozen

    def save(self, obj: Any) -> None:
        """Remember an object's fields before changing them."""
        self.objects.append((obj, copy.copy(obj)))

    def rollback(self) -> None:
        """Undo everything this journal recorded."""
        for obj, before in reversed(self.objects):
            for name in obj.__slots__:
                setattr(obj, name, getattr(before, name))
        for address, before_lamports in self.lamports_pre.items():
            self.chain.lamports[address] = before_lamports
        for address, acct in self.tokens_pre.items():
            self.chain.remove_token_account(address)
            if acct is not None:
                self.chain.add_token_account(acct)


def _jit(rng: random.Random, base: int, spread: int) -> int:
    # Compute units vary a little from one execution to the next, as on chain.
    return base + int(rng.random() * (spread + 1))


class Chain:
    """All simulated on-chain state, plus the operations scenarios are made of."""

    def __init__(self, seed: int, *, start_slot: int, start_unix_ms: int) -> None:
        self.seed = seed
        self.start_slot = start_slot
        self.start_unix_ms = start_unix_ms
        self.lamports: dict[str, int] = {}
        self.tokens: dict[str, TokenAcct] = {}
        self.holders: dict[str, dict[str, None]] = {}
        self.mints: dict[str, MintState] = {}
        self.curves: dict[str, CurveState] = {}
        self.pools: dict[str, PoolState] = {}
        self.pool_by_address: dict[str, PoolState] = {}
        self.curve_by_address: dict[str, CurveState] = {}
        self._signatures = KeyStream(seed, "signatures")
        self.rng = random.Random(f"solai-sim:{seed}:chain")  # noqa: S311 - simulation only

    # -- state access ---------------------------------------------------------------------

    def lamports_of(self, address: str) -> int:
        """Lamports of any account (well-known accounts have their mainnet balances)."""
        v = self.lamports.get(address)
        if v is not None:
            return v
        return KNOWN_LAMPORTS.get(address, 0)

    def add_token_account(self, acct: TokenAcct) -> None:
        """Insert a token account and index it by mint."""
        self.tokens[acct.address] = acct
        self.holders.setdefault(acct.mint, {})[acct.address] = None

    def remove_token_account(self, address: str) -> None:
        """Delete a token account (closed)."""
        acct = self.tokens.pop(address, None)
        if acct is not None:
            self.holders.get(acct.mint, {}).pop(address, None)

    def balance(self, owner: str, mint: str) -> int:
        """Raw token balance of ``owner``'s associated account for ``mint`` (0 when none)."""
        m = self.mints.get(mint)
        if m is None:
            return 0
        acct = self.tokens.get(K.ata(owner, mint, m.program))
        return acct.amount if acct is not None else 0

    def is_frozen(self, owner: str, mint: str) -> bool:
        """True when ``owner``'s associated account for ``mint`` is frozen."""
        m = self.mints.get(mint)
        if m is None:
            return False
        acct = self.tokens.get(K.ata(owner, mint, m.program))
        return acct is not None and acct.frozen

    def fund(self, address: str, lamports: int) -> None:
        """Give a wallet lamports before the scenario starts."""
        self.lamports[address] = self.lamports_of(address) + lamports

    def slot_at(self, t_ms: int) -> int:
        """The slot at scenario time ``t_ms`` (400 ms slots)."""
        return self.start_slot + t_ms // SLOT_MS

    def block_time_of(self, slot: int) -> int:
        """Unix seconds of a slot's block."""
        return (self.start_unix_ms + (slot - self.start_slot) * SLOT_MS) // 1000

    def ctx(
        self,
        t_ms: int,
        *,
        signature: str | None = None,
        rng: random.Random | None = None,
        signers: int = 1,
    ) -> Ctx:
        """A context for an operation at ``t_ms`` (fresh deterministic signatures unless given)."""
        slot = self.slot_at(t_ms)
        sig = signature if signature is not None else self._signatures.signature()
        extra = tuple(self._signatures.signature() for _ in range(signers - 1))
        return Ctx(
            t_ms,
            slot,
            self.block_time_of(slot),
            sig,
            blockhash_for_slot(self.seed, slot - 2),
            rng or self.rng,
            extra,
        )

    # -- setup ----------------------------------------------------------------------------

    def setup_mint(
        self,
        *,
        mint: str,
        creator: str,
        name: str,
        symbol: str,
        uri: str,
        supply: int,
        decimals: int,
        token_program: str,
        freeze_authority: str | None,
        mint_authority: str | None = None,
        transfer_fee_bps: int | None = None,
        transfer_fee_max: int = 0,
    ) -> MintState:
        """A pre-existing mint whose whole supply sits in ``creator``'s associated account."""
        state = MintState(
            mint,
            token_program,
            decimals,
            supply,
            mint_authority,
            freeze_authority,
            name,
            symbol,
            uri,
            creator,
            transfer_fee_bps,
            transfer_fee_max,
            metadata_in_mint=token_program == P.TOKEN_2022_PROGRAM,
        )
        self.mints[mint] = state
        self.lamports[mint] = rent_exempt_lamports(len(state.data()))
        address = K.ata(creator, mint, token_program)
        self.add_token_account(TokenAcct(address, mint, creator, token_program, supply))
        self.lamports[address] = rent_exempt_lamports(self._token_len(token_program))
        return state

    @staticmethod
    def _token_len(program: str) -> int:
        return P.TOKEN_2022_ACCOUNT_LEN if program == P.TOKEN_2022_PROGRAM else P.TOKEN_ACCOUNT_LEN

    # -- invocation helpers (each applies its state change to the journal) -------------------

    def _transfer(self, j: Journal, src: str, dst: str, lamports: int) -> Inv:
        j.move(src, dst, lamports)
        return Inv(P.SYSTEM_PROGRAM, (src, dst), enc.ix_system_transfer(lamports))

    def _create_account(self, j: Journal, payer: str, new: str, space: int, owner: str) -> Inv:
        rent = rent_exempt_lamports(space)
        j.move(payer, new, rent)
        return Inv(P.SYSTEM_PROGRAM, (payer, new), enc.ix_system_create_account(rent, space, owner))

    def _token_transfer(
        self,
        j: Journal,
        rng: random.Random,
        *,
        src: str,
        dst: str,
        mint: str,
        authority: str,
        amount: int,
    ) -> Inv:
        m = self.mints[mint] if mint != P.WSOL_MINT else None
        program = m.program if m is not None else P.TOKEN_PROGRAM
        decimals = m.decimals if m is not None else P.WSOL_DECIMALS
        items: list[str | int | Inv | Fail] = [
            "Program log: Instruction: TransferChecked",
            _jit(rng, 2400 if program == P.TOKEN_2022_PROGRAM else 6100, 200),
        ]
        src_acct, dst_acct = self.tokens.get(src), self.tokens.get(dst)
        if (src_acct is not None and src_acct.frozen) or (dst_acct is not None and dst_acct.frozen):
            items.append(Fail(TOKEN_ERROR_ACCOUNT_FROZEN, FROZEN_LOG))
        else:
            withheld = m.transfer_fee(amount) if m is not None else 0
            j.token_add(src, -amount)
            j.token_add(dst, amount - withheld)
        return Inv(
            program,
            (src, mint, dst, authority),
            enc.ix_token_transfer_checked(amount, decimals),
            items,
        )

    def _ata_create(
        self,
        j: Journal,
        rng: random.Random,
        *,
        payer: str,
        owner: str,
        mint: str,
        program: str,
        idempotent: bool = True,
    ) -> Inv:
        address = K.ata(owner, mint, program)
        accounts = (payer, address, owner, mint, P.SYSTEM_PROGRAM, program)
        data = enc.ix_ata_create_idempotent() if idempotent else enc.ix_ata_create()
        head = "Program log: CreateIdempotent" if idempotent else "Program log: Create"
        if address in self.tokens:
            return Inv(P.ASSOCIATED_TOKEN_PROGRAM, accounts, data, [head, _jit(rng, 4300, 300)])
        size = self._token_len(program)
        legacy = program == P.TOKEN_PROGRAM
        get_size = Inv(
            program,
            (mint,),
            enc.ix_token_get_account_data_size(),
            ["Program log: Instruction: GetAccountDataSize", _jit(rng, 1450, 120)],
            return_data=struct.pack("<Q", size),
        )
        create = self._create_account(j, payer, address, size, program)
        j.token_create(address, mint, owner, program)
        immutable_items: list[str | int | Inv | Fail] = [
            "Program log: Instruction: InitializeImmutableOwner"
        ]
        if legacy:
            immutable_items.append(
                "Program log: Please upgrade to SPL Token 2022 for immutable owner support"
            )
        immutable_items.append(_jit(rng, 700 if not legacy else 1400, 40))
        immutable = Inv(
            program, (address,), enc.ix_token_initialize_immutable_owner(), immutable_items
        )
        init = Inv(
            program,
            (address, mint),
            enc.ix_token_initialize_account3(owner),
            [
                "Program log: Instruction: InitializeAccount3",
                _jit(rng, 1950 if not legacy else 4180, 200),
            ],
        )
        items: list[str | int | Inv | Fail] = [
            head,
            _jit(rng, 5300, 300),
            get_size,
            create,
            "Program log: Initialize the associated token account",
            immutable,
            init,
            _jit(rng, 3500, 300),
        ]
        return Inv(P.ASSOCIATED_TOKEN_PROGRAM, accounts, data, items)

    def _emit(self, program: str, event: bytes, rng: random.Random) -> tuple[str, Inv]:
        authority = (
            P.PUMP_EVENT_AUTHORITY if program == P.PUMP_PROGRAM else P.PUMPSWAP_EVENT_AUTHORITY
        )
        line = "Program data: " + _b64(event)
        inv = Inv(program, (authority,), P.EMIT_CPI_TAG + event, [_jit(rng, 2003, 122)])
        return line, inv

    def _budget(self, b: TxBuilder, rng: random.Random, limit: int) -> tuple[int, int]:
        price = rng.choice((50_000, 100_000, 250_000, 500_000, 1_000_000, 2_000_000))
        b.add(Inv(P.COMPUTE_BUDGET_PROGRAM, (), enc.ix_compute_unit_limit(limit)))
        b.add(Inv(P.COMPUTE_BUDGET_PROGRAM, (), enc.ix_compute_unit_price(price)))
        return limit, price

    def _fee_inv(
        self, program: str, data: bytes, ret: tuple[int, int, int], rng: random.Random
    ) -> Inv:
        config = P.PUMP_FEE_CONFIG if program == P.PUMP_PROGRAM else P.PUMPSWAP_FEE_CONFIG
        return Inv(
            P.PUMP_FEE_PROGRAM,
            (config, program),
            data,
            ["Program log: Instruction: GetFees", _jit(rng, 3300, 1400)],
            return_data=struct.pack("<QQQ", *ret),
        )

    # -- finishing ------------------------------------------------------------------------

    def _finish(
        self,
        j: Journal,
        b: TxBuilder,
        ctx: Ctx,
        cu: tuple[int, int],
        intended: list[ChainEvent],
        *,
        dry_run: bool = False,
    ) -> SimTx:
        limit, price = cu
        rendered = render_execution(b.instructions, limit)
        err: Any = None
        if rendered.failed_at is not None:
            j.rollback()
            j.objects.clear()
            err = {"InstructionError": [rendered.failed_at, {"Custom": rendered.fail_code}]}
            intended = []
        keys, header = b.account_keys(inv for _, calls in rendered.inner for inv, _ in calls)
        n_signatures = header[0]
        tx_fee = LAMPORTS_PER_SIGNATURE * n_signatures + -(-limit * price // 1_000_000)
        j.add(b.fee_payer, -tx_fee)
        index = {k: i for i, k in enumerate(keys)}
        instructions = tuple(compile_ix(inv, index, 1) for inv in b.instructions)
        inner = tuple(
            (i, tuple(compile_ix(inv, index, depth) for inv, depth in calls))
            for i, calls in rendered.inner
        )
        lamports_of = self.lamports_of
        was = j.lamports_pre
        pre = array("Q", [was[k] if k in was else lamports_of(k) for k in keys])
        post = array("Q", [lamports_of(k) for k in keys])
        pre_tokens: list[TokenBalance] = []
        post_tokens: list[TokenBalance] = []
        for i, k in enumerate(keys):
            before = j.tokens_pre.get(k, _MISSING)
            now = self.tokens.get(k)
            if before is _MISSING:
                before = now
            if isinstance(before, TokenAcct):
                pre_tokens.append(self._token_balance(i, before))
            if now is not None:
                post_tokens.append(self._token_balance(i, now))
        tx = SimTx(
            signature=ctx.signature,
            slot=ctx.slot,
            block_time=ctx.block_time,
            t_ms=ctx.t_ms,
            account_keys=keys,
            header=header,
            recent_blockhash=ctx.blockhash,
            instructions=instructions,
            inner=inner,
            ws_body=logs_notification_body(ctx.signature, ctx.slot, err, rendered.logs),
            pre_balances=pre,
            post_balances=post,
            pre_token_balances=tuple(pre_tokens),
            post_token_balances=tuple(post_tokens),
            fee=tx_fee,
            compute_units=rendered.compute_units,
            err=err,
            extra_signatures=ctx.extra_signatures,
            intended=tuple(replace(e, index=n) for n, e in enumerate(intended)),
        )
        if dry_run:
            j.rollback()
        return tx

    def _token_balance(self, index: int, acct: TokenAcct) -> TokenBalance:
        decimals = P.WSOL_DECIMALS if acct.mint == P.WSOL_MINT else self.mints[acct.mint].decimals
        return TokenBalance(index, acct.mint, acct.owner, acct.program, acct.amount, decimals)

    def _event(self, ctx: Ctx, **fields: Any) -> ChainEvent:
        return ChainEvent(
            signature=ctx.signature, slot=ctx.slot, ts=ctx.block_time * 1000, **fields
        )

    # -- pump.fun bonding curve -------------------------------------------------------------

    def op_create(
        self,
        ctx: Ctx,
        *,
        mint: str,
        dev: str,
        name: str,
        symbol: str,
        uri: str,
        token_program: str = P.TOKEN_2022_PROGRAM,
        dev_buy_lamports: int = 0,
        cashback: bool = False,
    ) -> SimTx:
        """create_v2 (Token-2022) or create (SPL Token), then the dev's buy in the same tx."""
        if mint in self.mints:
            raise ChainError(f"mint {mint} already exists")
        if self.lamports_of(dev) < dev_buy_lamports + 60_000_000:
            raise ChainError(f"{dev} cannot afford to create {mint}")
        rng = ctx.rng
        j = Journal(self)
        b = TxBuilder(dev)
        cu = self._budget(b, rng, 400_000 if dev_buy_lamports else 250_000)
        curve_addr = K.bonding_curve(mint)
        vault = K.ata(curve_addr, mint, token_program)
        v2 = token_program == P.TOKEN_2022_PROGRAM
        state = MintState(
            mint,
            token_program,
            P.PUMP_TOKEN_DECIMALS,
            0,
            P.PUMP_MINT_AUTHORITY,
            None,
            name,
            symbol,
            uri,
            dev,
            metadata_in_mint=v2,
        )
        self.mints[mint] = state
        items: list[str | int | Inv | Fail] = [
            "Program log: Instruction: CreateV2" if v2 else "Program log: Instruction: Create",
            _jit(rng, 9000, 1500),
        ]
        if v2:
            base_len = 234  # 166 + MetadataPointer TLV; TokenMetadata is realloc'd below
            items.append(self._create_account(j, dev, mint, base_len, token_program))
            items.append(
                Inv(
                    token_program,
                    (mint,),
                    b"\x27\x00" + bytes(32) + enc.key(mint),
                    ["Program log: MetadataPointerInstruction::Initialize", _jit(rng, 900, 60)],
                )
            )
        else:
            items.append(self._create_account(j, dev, mint, P.MINT_ACCOUNT_LEN, token_program))
        items.append(
            Inv(
                token_program,
                (mint,),
                enc.ix_token_initialize_mint2(P.PUMP_TOKEN_DECIMALS, P.PUMP_MINT_AUTHORITY, None),
                ["Program log: Instruction: InitializeMint2", _jit(rng, 1750, 80)],
            )
        )
        items.append(
            self._create_account(
                j, dev, curve_addr, P.PUMP_BONDING_CURVE_ACCOUNT_LEN, P.PUMP_PROGRAM
            )
        )
        items.append(
            self._ata_create(
                j,
                rng,
                payer=dev,
                owner=curve_addr,
                mint=mint,
                program=token_program,
                idempotent=False,
            )
        )
        if v2:
            full = rent_exempt_lamports(len(state.data()))
            items.append(self._transfer(j, dev, mint, full - j.lamports(mint)))
            items.append(
                Inv(
                    token_program,
                    (mint, P.PUMP_MINT_AUTHORITY, mint, P.PUMP_MINT_AUTHORITY),
                    bytes.fromhex("d2e11ea258b84d8d")
                    + enc.string(name)
                    + enc.string(symbol)
                    + enc.string(uri),
                    ["Program log: TokenMetadataInstruction: Initialize", _jit(rng, 3500, 60)],
                )
            )
            items.append(
                Inv(
                    token_program,
                    (mint, P.PUMP_MINT_AUTHORITY),
                    bytes.fromhex("d7e4a6e45464567a") + bytes(32),
                    ["Program log: TokenMetadataInstruction: UpdateAuthority", _jit(rng, 3850, 60)],
                )
            )
        else:
            metadata = K.pda(
                (b"metadata", enc.key(P.METAPLEX_METADATA_PROGRAM), enc.key(mint)),
                P.METAPLEX_METADATA_PROGRAM,
            )[0]
            items.append(
                Inv(
                    P.METAPLEX_METADATA_PROGRAM,
                    (
                        metadata,
                        mint,
                        P.PUMP_MINT_AUTHORITY,
                        dev,
                        P.PUMP_MINT_AUTHORITY,
                        P.SYSTEM_PROGRAM,
                    ),
                    b"\x21" + enc.string(name) + enc.string(symbol) + enc.string(uri) + bytes(5),
                    [
                        "Program log: IX: Create Metadata Accounts v3",
                        _jit(rng, 20000, 3000),
                        self._create_account(j, dev, metadata, 679, P.METAPLEX_METADATA_PROGRAM),
                        _jit(rng, 8000, 2000),
                    ],
                )
            )
        j.token_add(vault, P.PUMP_TOKEN_TOTAL_SUPPLY)
        state.supply = P.PUMP_TOKEN_TOTAL_SUPPLY
        items.append(
            Inv(
                token_program,
                (mint, vault, P.PUMP_MINT_AUTHORITY),
                enc.ix_token_mint_to(P.PUMP_TOKEN_TOTAL_SUPPLY),
                ["Program log: Instruction: MintTo", _jit(rng, 1700, 3000)],
            )
        )
        state.mint_authority = None
        items.append(
            Inv(
                token_program,
                (mint, P.PUMP_MINT_AUTHORITY),
                enc.ix_token_set_authority_revoke_mint(),
                ["Program log: Instruction: SetAuthority", _jit(rng, 1040, 1800)],
            )
        )
        curve = CurveState(
            mint,
            curve_addr,
            vault,
            dev,
            token_program,
            P.PUMP_INITIAL_VIRTUAL_TOKEN_RESERVES,
            P.PUMP_INITIAL_VIRTUAL_SOL_RESERVES,
            P.PUMP_INITIAL_REAL_TOKEN_RESERVES,
            0,
            P.PUMP_TOKEN_TOTAL_SUPPLY,
            cashback=cashback,
        )
        self.curves[mint] = curve
        self.curve_by_address[curve_addr] = curve
        event = enc.CreateEvent(
            name=name,
            symbol=symbol,
            uri=uri,
            mint=mint,
            bonding_curve=curve_addr,
            user=dev,
            creator=dev,
            timestamp=ctx.block_time,
            virtual_token_reserves=curve.virtual_tokens,
            virtual_sol_reserves=curve.virtual_sol,
            real_token_reserves=curve.real_tokens,
            token_total_supply=curve.supply,
            token_program=token_program,
            is_mayhem_mode=False,
            is_cashback_enabled=cashback,
            quote_mint=P.SYSTEM_PROGRAM,
            virtual_quote_reserves=CREATE_EVENT_VIRTUAL_QUOTE_RESERVES,
        )
        line, emit = self._emit(P.PUMP_PROGRAM, enc.create_event(event), rng)
        items += [line, emit, _jit(rng, 40000, 8000)]
        if v2:
            global_params = K.pda((b"global-params",), P.MAYHEM_PROGRAM)[0]
            sol_vault = K.pda((b"sol-vault",), P.MAYHEM_PROGRAM)[0]
            mayhem_state = K.pda((b"mayhem-state", enc.key(mint)), P.MAYHEM_PROGRAM)[0]
            accounts: tuple[str, ...] = (
                mint,
                P.PUMP_MINT_AUTHORITY,
                curve_addr,
                vault,
                P.PUMP_GLOBAL,
                dev,
                P.SYSTEM_PROGRAM,
                token_program,
                P.ASSOCIATED_TOKEN_PROGRAM,
                P.MAYHEM_PROGRAM,
                global_params,
                sol_vault,
                mayhem_state,
                K.ata(sol_vault, mint, token_program),
                P.PUMP_EVENT_AUTHORITY,
                P.PUMP_PROGRAM,
            )
            data = enc.ix_pump_create_v2(name, symbol, uri, dev, cashback=cashback)
            writable = {
                mint,
                curve_addr,
                vault,
                dev,
                P.MAYHEM_PROGRAM,
                sol_vault,
                mayhem_state,
                accounts[13],
            }
        else:
            metadata = K.pda(
                (b"metadata", enc.key(P.METAPLEX_METADATA_PROGRAM), enc.key(mint)),
                P.METAPLEX_METADATA_PROGRAM,
            )[0]
            accounts = (
                mint,
                P.PUMP_MINT_AUTHORITY,
                curve_addr,
                vault,
                P.PUMP_GLOBAL,
                P.METAPLEX_METADATA_PROGRAM,
                metadata,
                dev,
                P.SYSTEM_PROGRAM,
                token_program,
                P.ASSOCIATED_TOKEN_PROGRAM,
                P.RENT_SYSVAR,
                P.PUMP_EVENT_AUTHORITY,
                P.PUMP_PROGRAM,
            )
            data = enc.ix_pump_create(name, symbol, uri, dev)
            writable = {mint, curve_addr, vault, metadata, dev}
        b.add(
            Inv(P.PUMP_PROGRAM, accounts, data, items),
            [(k, k in (mint, dev), k in writable) for k in accounts],
        )
        self.lamports[curve_addr] = self.lamports_of(curve_addr)
        intended = [
            self._event(
                ctx,
                kind="create",
                venue="pumpfun",
                mint=mint,
                trader=dev,
                name=name,
                symbol=symbol,
                uri=uri,
                creator=dev,
                pool=curve_addr,
                token_program=token_program,
            )
        ]
        if dev_buy_lamports:
            buy_events = self._curve_buy_ixs(
                j, b, ctx, dev, curve, dev_buy_lamports, "buy_exact_sol_in"
            )
            intended += buy_events
        return self._finish(j, b, ctx, cu, intended)

    def _curve_buy_ixs(
        self,
        j: Journal,
        b: TxBuilder,
        ctx: Ctx,
        user: str,
        curve: CurveState,
        spend: int,
        style: str,
        exact_tokens: int | None = None,
    ) -> list[ChainEvent]:
        rng = ctx.rng
        mint = curve.mint
        program = curve.token_program
        protocol_bps = P.PUMP_FEE_BASIS_POINTS
        creator_bps = 0 if curve.cashback else P.PUMP_CREATOR_FEE_BASIS_POINTS
        cashback_bps = 30 if curve.cashback else 0
        # Budget the spend (fees included) as a wallet would; the cap handles the last buy.
        q = curve_buy_exact_sol_in(
            curve.virtual_sol,
            curve.virtual_tokens,
            curve.real_tokens,
            spend,
            protocol_bps,
            creator_bps + cashback_bps,
        )
        if exact_tokens is not None:
            q = curve_buy_tokens(curve.virtual_sol, curve.virtual_tokens, exact_tokens, 0, 0)
        if q.tokens <= 0:
            raise ChainError("buy too small")
        if style == "buy" or exact_tokens is not None or q.tokens >= curve.real_tokens:
            tokens = min(q.tokens, curve.real_tokens)
            q = curve_buy_tokens(curve.virtual_sol, curve.virtual_tokens, tokens, protocol_bps, 0)
            ix_name = "buy"
        else:
            ix_name = "buy_exact_sol_in"
        protocol_fee = fee(q.sol, protocol_bps)
        creator_fee = fee(q.sol, creator_bps)
        cashback = fee(q.sol, cashback_bps)
        buyback = protocol_fee * PUMP_BUYBACK_SHARE_BPS // 10_000
        total = q.sol + protocol_fee + creator_fee + cashback
        if exact_tokens is not None and total > spend:
            raise ChainError(f"slippage: {total} lamports needed, max_sol_cost is {spend}")
        user_ata = K.ata(user, mint, program)
        b.add(
            self._ata_create(j, rng, payer=user, owner=user, mint=mint, program=program),
            [(user, True, True), (user_ata, False, True)],
        )
        if self.lamports_of(user) < total + 10_000_000:
            raise ChainError(f"{user} cannot afford {total} lamports")
        j.save(curve)
        fee_recipient = rng.choice(P.PUMP_FEE_RECIPIENTS)
        cvault = K.creator_vault(curve.creator)
        uva = K.user_volume_accumulator(user)
        mcap = curve.virtual_sol * curve.supply // curve.virtual_tokens
        items: list[str | int | Inv | Fail] = [
            "Program log: Instruction: BuyExactSolIn"
            if ix_name == "buy_exact_sol_in"
            else "Program log: Instruction: Buy",
            _jit(rng, 14000, 4000),
            self._fee_inv(
                P.PUMP_PROGRAM,
                enc.ix_fee_get_fees()
                + b"\x01"
                + mcap.to_bytes(16, "little")
                + b"\x00"
                + enc.u64(11_718_750),
                (0, protocol_bps, creator_bps + cashback_bps),
                rng,
            ),
            self._token_transfer(
                j,
                rng,
                src=curve.vault,
                dst=user_ata,
                mint=mint,
                authority=curve.address,
                amount=q.tokens,
            ),
        ]
        if cashback:
            items.append(self._transfer(j, user, uva, cashback))
        items.append(self._transfer(j, user, curve.address, q.sol))
        if creator_fee:
            items.append(self._transfer(j, user, cvault, creator_fee))
        items.append(self._transfer(j, user, PUMP_BUYBACK_RECIPIENT, buyback))
        items.append(self._transfer(j, user, fee_recipient, protocol_fee - buyback))
        curve.virtual_sol += q.sol
        curve.virtual_tokens -= q.tokens
        curve.real_sol += q.sol
        curve.real_tokens -= q.tokens
        event = self._trade_event(
            ctx,
            curve,
            user,
            q.sol,
            q.tokens,
            True,
            fee_recipient,
            protocol_fee,
            creator_fee,
            cashback,
            buyback,
            ix_name,
        )
        line, emit = self._emit(P.PUMP_PROGRAM, enc.trade_event(event), rng)
        items += [_jit(rng, 9000, 3000), line, emit]
        events = [
            self._event(
                ctx,
                kind="trade",
                venue="pumpfun",
                mint=mint,
                trader=user,
                side="buy",
                sol_lamports=q.sol,
                token_amount=q.tokens,
                virtual_sol_reserves=curve.virtual_sol,
                virtual_token_reserves=curve.virtual_tokens,
                creator=curve.creator,
            )
        ]
        if curve.real_tokens == 0:
            curve.complete = True
            complete = enc.complete_event(
                user=user,
                mint=mint,
                bonding_curve=curve.address,
                timestamp=ctx.block_time,
                quote_mint=P.SYSTEM_PROGRAM,
            )
            line2, emit2 = self._emit(P.PUMP_PROGRAM, complete, rng)
            items += [line2, emit2]
            events.append(
                self._event(
                    ctx,
                    kind="complete",
                    venue="pumpfun",
                    mint=mint,
                    trader=user,
                    pool=curve.address,
                )
            )
        items.append(_jit(rng, 3000, 1500))
        bc_v2 = K.pda((b"bonding-curve-v2", enc.key(mint)), P.PUMP_PROGRAM)[0]
        accounts = (
            P.PUMP_GLOBAL,
            fee_recipient,
            mint,
            curve.address,
            curve.vault,
            user_ata,
            user,
            P.SYSTEM_PROGRAM,
            program,
            cvault,
            P.PUMP_EVENT_AUTHORITY,
            P.PUMP_PROGRAM,
            P.PUMP_GLOBAL_VOLUME_ACCUMULATOR,
            uva,
            P.PUMP_FEE_CONFIG,
            P.PUMP_FEE_PROGRAM,
            bc_v2,
            PUMP_BUYBACK_RECIPIENT,
        )
        writable = {
            fee_recipient,
            curve.address,
            curve.vault,
            user_ata,
            user,
            cvault,
            uva,
            PUMP_BUYBACK_RECIPIENT,
        }
        if ix_name == "buy":
            data = enc.ix_pump_buy(
                q.tokens, spend if exact_tokens is not None else total + total // 20
            )
        else:
            data = enc.ix_pump_buy_exact_sol_in(spend, q.tokens * 95 // 100)
        b.add(
            Inv(P.PUMP_PROGRAM, accounts, data, items),
            [(k, k == user, k in writable) for k in accounts],
        )
        return events

    def _trade_event(
        self,
        ctx: Ctx,
        curve: CurveState,
        user: str,
        sol: int,
        tokens: int,
        is_buy: bool,
        fee_recipient: str,
        protocol_fee: int,
        creator_fee: int,
        cashback: int,
        buyback: int,
        ix_name: str,
    ) -> enc.TradeEvent:
        return enc.TradeEvent(
            mint=curve.mint,
            sol_amount=sol,
            token_amount=tokens,
            is_buy=is_buy,
            user=user,
            timestamp=ctx.block_time,
            virtual_sol_reserves=curve.virtual_sol,
            virtual_token_reserves=curve.virtual_tokens,
            real_sol_reserves=curve.real_sol,
            real_token_reserves=curve.real_tokens,
            fee_recipient=fee_recipient,
            fee_basis_points=P.PUMP_FEE_BASIS_POINTS,
            fee=protocol_fee,
            creator=curve.creator,
            creator_fee_basis_points=0 if curve.cashback else P.PUMP_CREATOR_FEE_BASIS_POINTS,
            creator_fee=creator_fee,
            track_volume=False,
            total_unclaimed_tokens=0,
            total_claimed_tokens=0,
            current_sol_volume=0,
            last_update_timestamp=0,
            ix_name=ix_name,
            mayhem_mode=False,
            cashback_fee_basis_points=30 if curve.cashback else 0,
            cashback=cashback,
            buyback_fee_basis_points=PUMP_BUYBACK_SHARE_BPS,
            buyback_fee=buyback,
            shareholders=(),
            quote_mint=P.SYSTEM_PROGRAM,
            quote_amount=sol,
            virtual_quote_reserves=curve.virtual_sol,
            real_quote_reserves=curve.real_sol,
        )

    def _curve(self, mint: str) -> CurveState:
        curve = self.curves.get(mint)
        if curve is None:
            raise ChainError(f"no bonding curve for {mint}")
        if curve.complete:
            raise ChainError(f"bonding curve of {mint} is complete")
        return curve

    def op_curve_buy(
        self,
        ctx: Ctx,
        *,
        user: str,
        mint: str,
        lamports: int,
        style: str = "buy_exact_sol_in",
        exact_tokens: int | None = None,
        dry_run: bool = False,
    ) -> SimTx:
        """A wallet buys on the bonding curve, spending ``lamports`` fees included (or exactly
        ``exact_tokens`` for at most ``lamports``)."""
        curve = self._curve(mint)
        j = Journal(self)
        b = TxBuilder(user)
        cu = self._budget(b, ctx.rng, ctx.rng.choice((120_000, 150_000, 200_000, 300_000)))
        try:
            events = self._curve_buy_ixs(j, b, ctx, user, curve, lamports, style, exact_tokens)
        except ChainError:
            j.rollback()
            raise
        return self._finish(j, b, ctx, cu, events, dry_run=dry_run)

    def op_curve_sell(
        self, ctx: Ctx, *, user: str, mint: str, tokens: int, dry_run: bool = False
    ) -> SimTx:
        """A wallet sells ``tokens`` back to the bonding curve."""
        curve = self._curve(mint)
        rng = ctx.rng
        program = curve.token_program
        user_ata = K.ata(user, mint, program)
        held = self.tokens.get(user_ata)
        if held is None or held.amount < tokens or tokens <= 0:
            raise ChainError(f"{user} does not hold {tokens} of {mint}")
        j = Journal(self)
        b = TxBuilder(user)
        cu = self._budget(b, rng, rng.choice((100_000, 150_000, 200_000)))
        protocol_bps = P.PUMP_FEE_BASIS_POINTS
        creator_bps = 0 if curve.cashback else P.PUMP_CREATOR_FEE_BASIS_POINTS
        cashback_bps = 30 if curve.cashback else 0
        q = curve_sell(curve.virtual_sol, curve.virtual_tokens, tokens, protocol_bps, creator_bps)
        cashback = fee(q.sol, cashback_bps)
        buyback = q.protocol_fee * PUMP_BUYBACK_SHARE_BPS // 10_000
        fee_recipient = rng.choice(P.PUMP_FEE_RECIPIENTS)
        cvault = K.creator_vault(curve.creator)
        mcap = curve.virtual_sol * curve.supply // curve.virtual_tokens
        transfer = self._token_transfer(
            j, rng, src=user_ata, dst=curve.vault, mint=mint, authority=user, amount=tokens
        )
        items: list[str | int | Inv | Fail] = [
            "Program log: Instruction: Sell",
            _jit(rng, 12000, 4000),
            self._fee_inv(
                P.PUMP_PROGRAM,
                enc.ix_fee_get_fees()
                + b"\x01"
                + mcap.to_bytes(16, "little")
                + b"\x00"
                + enc.u64(11_718_750),
                (0, protocol_bps, creator_bps + cashback_bps),
                rng,
            ),
            transfer,
        ]
        events: list[ChainEvent] = []
        if not any(isinstance(x, Fail) for x in transfer.items):
            j.save(curve)
            # The curve is program-owned: pump moves its lamports directly, no system transfer.
            j.add(curve.address, -q.sol)
            j.add(user, q.sol - q.protocol_fee - q.creator_fee - cashback)
            j.add(fee_recipient, q.protocol_fee - buyback)
            j.add(PUMP_BUYBACK_RECIPIENT, buyback)
            if q.creator_fee:
                j.add(cvault, q.creator_fee)
            if cashback:
                j.add(K.user_volume_accumulator(user), cashback)
            curve.virtual_sol -= q.sol
            curve.virtual_tokens += tokens
            curve.real_sol -= q.sol
            curve.real_tokens += tokens
            event = self._trade_event(
                ctx,
                curve,
                user,
                q.sol,
                tokens,
                False,
                fee_recipient,
                q.protocol_fee,
                q.creator_fee,
                cashback,
                buyback,
                "sell",
            )
            line, emit = self._emit(P.PUMP_PROGRAM, enc.trade_event(event), rng)
            items += [_jit(rng, 8000, 3000), line, emit, _jit(rng, 2500, 1000)]
            events.append(
                self._event(
                    ctx,
                    kind="trade",
                    venue="pumpfun",
                    mint=mint,
                    trader=user,
                    side="sell",
                    sol_lamports=q.sol,
                    token_amount=tokens,
                    virtual_sol_reserves=curve.virtual_sol,
                    virtual_token_reserves=curve.virtual_tokens,
                    creator=curve.creator,
                )
            )
        bc_v2 = K.pda((b"bonding-curve-v2", enc.key(mint)), P.PUMP_PROGRAM)[0]
        accounts = (
            P.PUMP_GLOBAL,
            fee_recipient,
            mint,
            curve.address,
            curve.vault,
            user_ata,
            user,
            P.SYSTEM_PROGRAM,
            cvault,
            program,
            P.PUMP_EVENT_AUTHORITY,
            P.PUMP_PROGRAM,
            P.PUMP_FEE_CONFIG,
            P.PUMP_FEE_PROGRAM,
            bc_v2,
            PUMP_BUYBACK_RECIPIENT,
        )
        writable = {
            fee_recipient,
            curve.address,
            curve.vault,
            user_ata,
            user,
            cvault,
            PUMP_BUYBACK_RECIPIENT,
        }
        b.add(
            Inv(
                P.PUMP_PROGRAM,
                accounts,
                enc.ix_pump_sell(tokens, (q.sol - q.fees) * 95 // 100),
                items,
            ),
            [(k, k == user, k in writable) for k in accounts],
        )
        return self._finish(j, b, ctx, cu, events, dry_run=dry_run)

    # -- migration and PumpSwap -------------------------------------------------------------

    def op_migrate(self, ctx: Ctx, *, mint: str) -> SimTx:
        """The migration crank moves a completed curve into a new canonical PumpSwap pool."""
        curve = self.curves.get(mint)
        if curve is None or not curve.complete or curve.migrated:
            raise ChainError(f"{mint} is not ready to migrate")
        rng = ctx.rng
        crank = P.PUMP_MIGRATION_AUTHORITY
        j = Journal(self)
        b = TxBuilder(crank)
        cu = self._budget(b, rng, 600_000)
        program = curve.token_program
        authority = K.pool_authority(mint)
        pool_addr, bump = K.pumpswap_pool(0, authority, mint)
        lp = K.lp_mint(pool_addr)
        auth_mint_acct = K.ata(authority, mint, program)
        auth_wsol = K.ata(authority, P.WSOL_MINT, P.TOKEN_PROGRAM)
        base_vault = K.ata(pool_addr, mint, program)
        quote_vault = K.ata(pool_addr, P.WSOL_MINT, P.TOKEN_PROGRAM)
        user_lp = K.ata(authority, lp, P.TOKEN_2022_PROGRAM)
        j.save(curve)
        base_amount = self.tokens[curve.vault].amount
        sol_amount = curve.real_sol - P.PUMP_POOL_MIGRATION_FEE
        items: list[str | int | Inv | Fail] = [
            "Program log: Instruction: Migrate",
            _jit(rng, 16000, 3000),
        ]
        items.append(
            self._ata_create(j, rng, payer=crank, owner=authority, mint=mint, program=program)
        )
        items.append(
            self._ata_create(
                j, rng, payer=crank, owner=authority, mint=P.WSOL_MINT, program=P.TOKEN_PROGRAM
            )
        )
        items.append(
            self._token_transfer(
                j,
                rng,
                src=curve.vault,
                dst=auth_mint_acct,
                mint=mint,
                authority=curve.address,
                amount=base_amount,
            )
        )
        # The curve is program-owned: its SOL moves by direct lamport edits, then gets wrapped.
        j.add(curve.address, -curve.real_sol)
        j.add(auth_wsol, sol_amount)
        j.add(crank, P.PUMP_POOL_MIGRATION_FEE)
        items.append(
            Inv(
                P.TOKEN_PROGRAM,
                (auth_wsol,),
                enc.ix_token_sync_native(),
                ["Program log: Instruction: SyncNative", _jit(rng, 3000, 100)],
            )
        )
        j.sync_native(auth_wsol)
        create_pool, pool_events = self._create_pool_inv(
            j,
            ctx,
            creator=authority,
            payer=crank,
            mint=mint,
            base_program=program,
            base_amount=base_amount,
            quote_amount=sol_amount,
            coin_creator=curve.creator,
            user_base=auth_mint_acct,
            user_quote=auth_wsol,
            pool_addr=pool_addr,
            bump=bump,
            index=0,
        )
        items.append(create_pool)
        event = enc.complete_amm_migration_event(
            user=crank,
            mint=mint,
            mint_amount=base_amount,
            sol_amount=sol_amount,
            pool_migration_fee=P.PUMP_POOL_MIGRATION_FEE,
            bonding_curve=curve.address,
            timestamp=ctx.block_time,
            pool=pool_addr,
            quote_mint=P.WSOL_MINT,
        )
        line, emit = self._emit(P.PUMP_PROGRAM, event, rng)
        items += [line, emit, _jit(rng, 6000, 2000)]
        curve.migrated = True
        curve.real_sol = 0
        curve.real_tokens = 0
        accounts = (
            P.PUMP_GLOBAL,
            crank,
            mint,
            curve.address,
            curve.vault,
            crank,
            P.SYSTEM_PROGRAM,
            program,
            P.PUMPSWAP_PROGRAM,
            pool_addr,
            authority,
            auth_mint_acct,
            auth_wsol,
            P.PUMPSWAP_GLOBAL_CONFIG,
            P.WSOL_MINT,
            lp,
            user_lp,
            base_vault,
            quote_vault,
            P.TOKEN_2022_PROGRAM,
            P.ASSOCIATED_TOKEN_PROGRAM,
            P.PUMPSWAP_EVENT_AUTHORITY,
            P.PUMP_EVENT_AUTHORITY,
            P.PUMP_PROGRAM,
            P.RENT_SYSVAR,
        )
        writable = {
            crank,
            curve.address,
            curve.vault,
            pool_addr,
            authority,
            auth_mint_acct,
            auth_wsol,
            lp,
            user_lp,
            base_vault,
            quote_vault,
        }
        b.add(
            Inv(P.PUMP_PROGRAM, accounts, enc.ix_pump_migrate(), items),
            [(k, k == crank, k in writable) for k in accounts],
        )
        intended = [
            *pool_events,
            self._event(
                ctx,
                kind="migrate",
                venue="pumpfun",
                mint=mint,
                trader=crank,
                pool=pool_addr,
                sol_lamports=sol_amount,
                token_amount=base_amount,
            ),
        ]
        return self._finish(j, b, ctx, cu, intended)

    def _create_pool_inv(
        self,
        j: Journal,
        ctx: Ctx,
        *,
        creator: str,
        payer: str,
        mint: str,
        base_program: str,
        base_amount: int,
        quote_amount: int,
        coin_creator: str,
        user_base: str,
        user_quote: str,
        pool_addr: str,
        bump: int,
        index: int,
    ) -> tuple[Inv, list[ChainEvent]]:
        rng = ctx.rng
        lp = K.lp_mint(pool_addr)
        base_vault = K.ata(pool_addr, mint, base_program)
        quote_vault = K.ata(pool_addr, P.WSOL_MINT, P.TOKEN_PROGRAM)
        user_lp = K.ata(creator, lp, P.TOKEN_2022_PROGRAM)
        liquidity = initial_liquidity(base_amount, quote_amount)
        lp_out = liquidity - P.PUMPSWAP_MINIMUM_LIQUIDITY
        pool = PoolState(
            pool_addr,
            bump,
            index,
            creator,
            mint,
            P.WSOL_MINT,
            lp,
            base_vault,
            quote_vault,
            coin_creator,
            lp_out,
            base_program,
        )
        items: list[str | int | Inv | Fail] = [
            "Program log: Instruction: CreatePool",
            _jit(rng, 20000, 4000),
            self._create_account(j, payer, pool_addr, 301, P.PUMPSWAP_PROGRAM),
            self._create_account(j, payer, lp, P.MINT_ACCOUNT_LEN, P.TOKEN_2022_PROGRAM),
            Inv(
                P.TOKEN_2022_PROGRAM,
                (lp,),
                enc.ix_token_initialize_mint2(POOL_LP_DECIMALS, pool_addr, None),
                ["Program log: Instruction: InitializeMint2", _jit(rng, 1500, 100)],
            ),
            self._ata_create(j, rng, payer=payer, owner=pool_addr, mint=mint, program=base_program),
            self._ata_create(
                j, rng, payer=payer, owner=pool_addr, mint=P.WSOL_MINT, program=P.TOKEN_PROGRAM
            ),
            self._ata_create(
                j, rng, payer=payer, owner=creator, mint=lp, program=P.TOKEN_2022_PROGRAM
            ),
            self._token_transfer(
                j,
                rng,
                src=user_base,
                dst=base_vault,
                mint=mint,
                authority=creator,
                amount=base_amount,
            ),
            self._token_transfer(
                j,
                rng,
                src=user_quote,
                dst=quote_vault,
                mint=P.WSOL_MINT,
                authority=creator,
                amount=quote_amount,
            ),
            Inv(
                P.TOKEN_2022_PROGRAM,
                (lp, user_lp, pool_addr),
                enc.ix_token_mint_to(lp_out),
                ["Program log: Instruction: MintTo", _jit(rng, 1700, 100)],
            ),
        ]
        self.mints[lp] = MintState(
            lp, P.TOKEN_2022_PROGRAM, POOL_LP_DECIMALS, lp_out, pool_addr, None, "", "", "", creator
        )
        j.token_add(user_lp, lp_out)
        self.pools[mint] = pool
        self.pool_by_address[pool_addr] = pool
        event = enc.create_pool_event(
            timestamp=ctx.block_time,
            index=index,
            creator=creator,
            base_mint=mint,
            quote_mint=P.WSOL_MINT,
            base_mint_decimals=self.mints[mint].decimals,
            quote_mint_decimals=P.WSOL_DECIMALS,
            base_amount_in=base_amount,
            quote_amount_in=quote_amount,
            pool_base_amount=base_amount,
            pool_quote_amount=quote_amount,
            minimum_liquidity=P.PUMPSWAP_MINIMUM_LIQUIDITY,
            initial_liquidity=liquidity,
            lp_token_amount_out=lp_out,
            pool_bump=bump,
            pool=pool_addr,
            lp_mint=lp,
            user_base_token_account=user_base,
            user_quote_token_account=user_quote,
            coin_creator=coin_creator,
        )
        line, emit = self._emit(P.PUMPSWAP_PROGRAM, event, rng)
        items += [line, emit, _jit(rng, 5000, 2000)]
        accounts = (
            pool_addr,
            P.PUMPSWAP_GLOBAL_CONFIG,
            creator,
            mint,
            P.WSOL_MINT,
            lp,
            user_base,
            user_quote,
            user_lp,
            base_vault,
            quote_vault,
            P.SYSTEM_PROGRAM,
            P.TOKEN_2022_PROGRAM,
            base_program,
            P.TOKEN_PROGRAM,
            P.ASSOCIATED_TOKEN_PROGRAM,
            P.PUMPSWAP_EVENT_AUTHORITY,
            P.PUMPSWAP_PROGRAM,
        )
        inv = Inv(
            P.PUMPSWAP_PROGRAM,
            accounts,
            enc.ix_pumpswap_create_pool(index, base_amount, quote_amount, coin_creator),
            items,
        )
        events = [
            self._event(
                ctx,
                kind="pool_create",
                venue="pumpswap",
                mint=mint,
                trader=creator,
                pool=pool_addr,
                sol_lamports=quote_amount,
                token_amount=base_amount,
                virtual_sol_reserves=quote_amount,
                virtual_token_reserves=base_amount,
                creator=creator,
            )
        ]
        return inv, events

    def _wrap_ixs(
        self, j: Journal, b: TxBuilder, rng: random.Random, user: str, lamports: int
    ) -> str:
        wsol = K.ata(user, P.WSOL_MINT, P.TOKEN_PROGRAM)
        b.add(
            self._ata_create(
                j, rng, payer=user, owner=user, mint=P.WSOL_MINT, program=P.TOKEN_PROGRAM
            ),
            [(wsol, False, True)],
        )
        if lamports:
            b.add(self._transfer(j, user, wsol, lamports), [(wsol, False, True)])
            b.add(
                Inv(
                    P.TOKEN_PROGRAM,
                    (wsol,),
                    enc.ix_token_sync_native(),
                    ["Program log: Instruction: SyncNative", _jit(rng, 3000, 100)],
                ),
                [(wsol, False, True)],
            )
            j.sync_native(wsol)
        return wsol

    def _unwrap_ix(
        self, j: Journal, b: TxBuilder, rng: random.Random, user: str, wsol: str
    ) -> None:
        j.token_close(wsol, user)
        b.add(
            Inv(
                P.TOKEN_PROGRAM,
                (wsol, user, user),
                enc.ix_token_close_account(),
                ["Program log: Instruction: CloseAccount", _jit(rng, 2900, 100)],
            ),
            [(wsol, False, True)],
        )

    def op_pool_create(
        self, ctx: Ctx, *, creator: str, mint: str, base_amount: int, quote_amount: int
    ) -> SimTx:
        """A dev creates a PumpSwap pool for a mint they hold (non-canonical launch)."""
        if mint in self.pools:
            raise ChainError(f"{mint} already has a pool")
        m = self.mints[mint]
        if self.lamports_of(creator) < quote_amount + 60_000_000:
            raise ChainError(f"{creator} cannot afford a pool of {quote_amount} lamports")
        if self.balance(creator, mint) < base_amount:
            raise ChainError(f"{creator} does not hold {base_amount} of {mint}")
        rng = ctx.rng
        j = Journal(self)
        b = TxBuilder(creator)
        cu = self._budget(b, rng, 400_000)
        wsol = self._wrap_ixs(j, b, rng, creator, quote_amount)
        pool_addr, bump = K.pumpswap_pool(0, creator, mint)
        user_base = K.ata(creator, mint, m.program)
        inv, events = self._create_pool_inv(
            j,
            ctx,
            creator=creator,
            payer=creator,
            mint=mint,
            base_program=m.program,
            base_amount=base_amount,
            quote_amount=quote_amount,
            coin_creator=creator,
            user_base=user_base,
            user_quote=wsol,
            pool_addr=pool_addr,
            bump=bump,
            index=0,
        )
        writable = {
            pool_addr,
            creator,
            inv.accounts[5],
            user_base,
            wsol,
            inv.accounts[8],
            inv.accounts[9],
            inv.accounts[10],
        }
        b.add(inv, [(k, k == creator, k in writable) for k in inv.accounts])
        self._unwrap_ix(j, b, rng, creator, wsol)
        return self._finish(j, b, ctx, cu, events)

    def _pool(self, mint: str) -> PoolState:
        pool = self.pools.get(mint)
        if pool is None:
            raise ChainError(f"no PumpSwap pool for {mint}")
        return pool

    def _swap_accounts(
        self, pool: PoolState, user: str, user_base: str, user_quote: str
    ) -> enc.SwapAccounts:
        return enc.SwapAccounts(
            pool=pool.address,
            user=user,
            user_base_token_account=user_base,
            user_quote_token_account=user_quote,
            protocol_fee_recipient=PUMPSWAP_PROTOCOL_FEE_RECIPIENT,
            protocol_fee_recipient_token_account=K.ata(
                PUMPSWAP_PROTOCOL_FEE_RECIPIENT, P.WSOL_MINT, P.TOKEN_PROGRAM
            ),
            coin_creator=pool.coin_creator,
        )

    def _ensure_fee_accounts(self, pool: PoolState) -> tuple[str, str, str]:
        pfr_ata = K.ata(PUMPSWAP_PROTOCOL_FEE_RECIPIENT, P.WSOL_MINT, P.TOKEN_PROGRAM)
        vault_auth = K.coin_creator_vault_authority(pool.coin_creator)
        vault_ata = K.ata(vault_auth, P.WSOL_MINT, P.TOKEN_PROGRAM)
        for address, owner in ((pfr_ata, PUMPSWAP_PROTOCOL_FEE_RECIPIENT), (vault_ata, vault_auth)):
            if address not in self.tokens:
                # Long-lived fee accounts exist on mainnet before any of our trades.
                self.add_token_account(
                    TokenAcct(address, P.WSOL_MINT, owner, P.TOKEN_PROGRAM, 0, native=True)
                )
                self.lamports[address] = rent_exempt_lamports(P.TOKEN_ACCOUNT_LEN)
        return pfr_ata, vault_auth, vault_ata

    def _pool_accounts(
        self, pool: PoolState, user: str, user_base: str, user_quote: str, *, buy: bool
    ) -> tuple[tuple[str, ...], set[str]]:
        pfr_ata, vault_auth, vault_ata = self._ensure_fee_accounts(pool)
        accounts: tuple[str, ...] = (
            pool.address,
            user,
            P.PUMPSWAP_GLOBAL_CONFIG,
            pool.base_mint,
            pool.quote_mint,
            user_base,
            user_quote,
            pool.base_vault,
            pool.quote_vault,
            PUMPSWAP_PROTOCOL_FEE_RECIPIENT,
            pfr_ata,
            pool.base_program,
            P.TOKEN_PROGRAM,
            P.SYSTEM_PROGRAM,
            P.ASSOCIATED_TOKEN_PROGRAM,
            P.PUMPSWAP_EVENT_AUTHORITY,
            P.PUMPSWAP_PROGRAM,
            vault_ata,
            vault_auth,
        )
        if buy:
            accounts += (
                P.PUMPSWAP_GLOBAL_VOLUME_ACCUMULATOR,
                K.user_volume_accumulator(user, P.PUMPSWAP_PROGRAM),
            )
        accounts += (P.PUMPSWAP_FEE_CONFIG, P.PUMP_FEE_PROGRAM)
        writable = {
            pool.address,
            user,
            user_base,
            user_quote,
            pool.base_vault,
            pool.quote_vault,
            pfr_ata,
            vault_ata,
        }
        if buy:
            writable.add(accounts[20])
        return accounts, writable

    def op_pool_buy(
        self,
        ctx: Ctx,
        *,
        user: str,
        mint: str,
        lamports: int,
        exact_base_out: int | None = None,
        dry_run: bool = False,
    ) -> SimTx:
        """A wallet buys the token on its PumpSwap pool with ``lamports`` (fees included), or
        exactly ``exact_base_out`` tokens for at most ``lamports``."""
        pool = self._pool(mint)
        rng = ctx.rng
        lp_bps = P.PUMPSWAP_LP_FEE_BASIS_POINTS
        pr_bps = P.PUMPSWAP_PROTOCOL_FEE_BASIS_POINTS
        cr_bps = P.PUMPSWAP_COIN_CREATOR_FEE_BASIS_POINTS
        base_reserve = self.tokens[pool.base_vault].amount
        quote_reserve = self.tokens[pool.quote_vault].amount
        if exact_base_out is not None:
            base_out = exact_base_out
        else:
            base_out = pool_base_out_for_quote(
                base_reserve, quote_reserve, lamports, lp_bps, pr_bps, cr_bps
            )
        if base_out <= 0 or base_out >= base_reserve:
            raise ChainError("buy size out of range")
        q = pool_buy_base_out(base_reserve, quote_reserve, base_out, lp_bps, pr_bps, cr_bps)
        if q.user_quote > lamports:
            raise ChainError(f"slippage: {q.user_quote} lamports needed, max is {lamports}")
        if self.lamports_of(user) < lamports + 20_000_000:
            raise ChainError(f"{user} cannot afford {lamports} lamports")
        j = Journal(self)
        b = TxBuilder(user)
        cu = self._budget(b, rng, rng.choice((150_000, 200_000, 300_000)))
        m = self.mints[mint]
        wsol = self._wrap_ixs(j, b, rng, user, lamports)
        user_base = K.ata(user, mint, m.program)
        b.add(
            self._ata_create(j, rng, payer=user, owner=user, mint=mint, program=m.program),
            [(user_base, False, True)],
        )
        accounts, writable = self._pool_accounts(pool, user, user_base, wsol, buy=True)
        pfr_ata, vault_ata = accounts[10], accounts[17]
        user_base_before = self.tokens[user_base].amount
        user_quote_before = self.tokens[wsol].amount
        mcap = quote_reserve * m.supply // max(1, base_reserve)
        items: list[str | int | Inv | Fail] = [
            "Program log: Instruction: Buy",
            _jit(rng, 30000, 6000),
            self._fee_inv(
                P.PUMPSWAP_PROGRAM,
                enc.ix_fee_get_fees() + b"\x01" + mcap.to_bytes(16, "little") + enc.u64(q.quote),
                (lp_bps, pr_bps, cr_bps),
                rng,
            ),
            self._token_transfer(
                j,
                rng,
                src=pool.base_vault,
                dst=user_base,
                mint=mint,
                authority=pool.address,
                amount=base_out,
            ),
            self._token_transfer(
                j,
                rng,
                src=wsol,
                dst=pool.quote_vault,
                mint=P.WSOL_MINT,
                authority=user,
                amount=q.quote + q.lp_fee,
            ),
            self._token_transfer(
                j,
                rng,
                src=wsol,
                dst=pfr_ata,
                mint=P.WSOL_MINT,
                authority=user,
                amount=q.protocol_fee,
            ),
            self._token_transfer(
                j,
                rng,
                src=wsol,
                dst=vault_ata,
                mint=P.WSOL_MINT,
                authority=user,
                amount=q.creator_fee,
            ),
        ]
        fees = enc.SwapFees(lp_bps, q.lp_fee, pr_bps, q.protocol_fee, cr_bps, q.creator_fee)
        event = enc.pumpswap_buy_event(
            timestamp=ctx.block_time,
            base_amount_out=base_out,
            max_quote_amount_in=lamports,
            user_base_token_reserves=user_base_before,
            user_quote_token_reserves=user_quote_before,
            pool_base_token_reserves=base_reserve,
            pool_quote_token_reserves=quote_reserve,
            quote_amount_in=q.quote,
            fees=fees,
            quote_amount_in_with_lp_fee=q.quote + q.lp_fee,
            user_quote_amount_in=q.user_quote,
            accounts=self._swap_accounts(pool, user, user_base, wsol),
            min_base_amount_out=base_out,
        )
        line, emit = self._emit(P.PUMPSWAP_PROGRAM, event, rng)
        items += [line, emit, _jit(rng, 8000, 3000)]
        b.add(
            Inv(P.PUMPSWAP_PROGRAM, accounts, enc.ix_pumpswap_buy(base_out, lamports), items),
            [(k, k == user, k in writable) for k in accounts],
        )
        self._unwrap_ix(j, b, rng, user, wsol)
        intended = [
            self._event(
                ctx,
                kind="swap",
                venue="pumpswap",
                mint=mint,
                trader=user,
                side="buy",
                sol_lamports=q.quote,
                token_amount=base_out,
                virtual_sol_reserves=quote_reserve,
                virtual_token_reserves=base_reserve,
                pool=pool.address,
            )
        ]
        return self._finish(j, b, ctx, cu, intended, dry_run=dry_run)

    def op_pool_sell(
        self, ctx: Ctx, *, user: str, mint: str, tokens: int, dry_run: bool = False
    ) -> SimTx:
        """A wallet sells ``tokens`` into the PumpSwap pool (fails if its account is frozen)."""
        pool = self._pool(mint)
        rng = ctx.rng
        m = self.mints[mint]
        user_base = K.ata(user, mint, m.program)
        held = self.tokens.get(user_base)
        if held is None or held.amount < tokens or tokens <= 0:
            raise ChainError(f"{user} does not hold {tokens} of {mint}")
        lp_bps = P.PUMPSWAP_LP_FEE_BASIS_POINTS
        pr_bps = P.PUMPSWAP_PROTOCOL_FEE_BASIS_POINTS
        cr_bps = P.PUMPSWAP_COIN_CREATOR_FEE_BASIS_POINTS
        base_reserve = self.tokens[pool.base_vault].amount
        quote_reserve = self.tokens[pool.quote_vault].amount
        q = pool_sell(base_reserve, quote_reserve, tokens, lp_bps, pr_bps, cr_bps)
        j = Journal(self)
        b = TxBuilder(user)
        cu = self._budget(b, rng, rng.choice((150_000, 200_000)))
        wsol = self._wrap_ixs(j, b, rng, user, 0)
        accounts, writable = self._pool_accounts(pool, user, user_base, wsol, buy=False)
        pfr_ata, vault_ata = accounts[10], accounts[17]
        user_base_before = held.amount
        mcap = quote_reserve * m.supply // max(1, base_reserve)
        transfer_in = self._token_transfer(
            j, rng, src=user_base, dst=pool.base_vault, mint=mint, authority=user, amount=tokens
        )
        items: list[str | int | Inv | Fail] = [
            "Program log: Instruction: Sell",
            _jit(rng, 30000, 6000),
            self._fee_inv(
                P.PUMPSWAP_PROGRAM,
                enc.ix_fee_get_fees() + b"\x01" + mcap.to_bytes(16, "little") + enc.u64(q.quote),
                (lp_bps, pr_bps, cr_bps),
                rng,
            ),
            transfer_in,
        ]
        intended: list[ChainEvent] = []
        if not any(isinstance(x, Fail) for x in transfer_in.items):
            items += [
                self._token_transfer(
                    j,
                    rng,
                    src=pool.quote_vault,
                    dst=wsol,
                    mint=P.WSOL_MINT,
                    authority=pool.address,
                    amount=q.user_quote_out,
                ),
                self._token_transfer(
                    j,
                    rng,
                    src=pool.quote_vault,
                    dst=pfr_ata,
                    mint=P.WSOL_MINT,
                    authority=pool.address,
                    amount=q.protocol_fee,
                ),
                self._token_transfer(
                    j,
                    rng,
                    src=pool.quote_vault,
                    dst=vault_ata,
                    mint=P.WSOL_MINT,
                    authority=pool.address,
                    amount=q.creator_fee,
                ),
            ]
            fees = enc.SwapFees(lp_bps, q.lp_fee, pr_bps, q.protocol_fee, cr_bps, q.creator_fee)
            event = enc.pumpswap_sell_event(
                timestamp=ctx.block_time,
                base_amount_in=tokens,
                min_quote_amount_out=q.user_quote_out * 95 // 100,
                user_base_token_reserves=user_base_before,
                user_quote_token_reserves=0,
                pool_base_token_reserves=base_reserve,
                pool_quote_token_reserves=quote_reserve,
                quote_amount_out=q.quote,
                fees=fees,
                quote_amount_out_without_lp_fee=q.quote - q.lp_fee,
                user_quote_amount_out=q.user_quote_out,
                accounts=self._swap_accounts(pool, user, user_base, wsol),
            )
            line, emit = self._emit(P.PUMPSWAP_PROGRAM, event, rng)
            items += [line, emit, _jit(rng, 8000, 3000)]
            intended.append(
                self._event(
                    ctx,
                    kind="swap",
                    venue="pumpswap",
                    mint=mint,
                    trader=user,
                    side="sell",
                    sol_lamports=q.quote,
                    token_amount=tokens,
                    virtual_sol_reserves=quote_reserve,
                    virtual_token_reserves=base_reserve,
                    pool=pool.address,
                )
            )
        b.add(
            Inv(
                P.PUMPSWAP_PROGRAM,
                accounts,
                enc.ix_pumpswap_sell(tokens, q.user_quote_out * 95 // 100),
                items,
            ),
            [(k, k == user, k in writable) for k in accounts],
        )
        self._unwrap_ix(j, b, rng, user, wsol)
        return self._finish(j, b, ctx, cu, intended, dry_run=dry_run)

    def op_freeze(self, ctx: Ctx, *, authority: str, mint: str, holder: str) -> SimTx:
        """The freeze authority freezes ``holder``'s token account (a honeypot's trap)."""
        m = self.mints[mint]
        if m.freeze_authority != authority:
            raise ChainError(f"{authority} is not the freeze authority of {mint}")
        address = K.ata(holder, mint, m.program)
        if address not in self.tokens:
            raise ChainError(f"{holder} has no account for {mint}")
        rng = ctx.rng
        j = Journal(self)
        b = TxBuilder(authority)
        cu = self._budget(b, rng, 50_000)
        j.set_frozen(address, True)
        b.add(
            Inv(
                m.program,
                (address, mint, authority),
                enc.ix_token_freeze_account(),
                ["Program log: Instruction: FreezeAccount", _jit(rng, 4200, 300)],
            ),
            [(address, False, True), (mint, False, False), (authority, True, False)],
        )
        return self._finish(j, b, ctx, cu, [])

    def op_generic(
        self,
        ctx: Ctx,
        *,
        payer: str,
        keys: list[tuple[str, bool, bool]],
        instructions: list[tuple[str, tuple[str, ...], bytes]],
        dry_run: bool = False,
    ) -> SimTx:
        """A submitted transaction the simulator does not model: it succeeds and costs its fee."""
        rng = ctx.rng
        j = Journal(self)
        b = TxBuilder(payer)
        for key, signer, writable in keys:
            b.meta(key, signer=signer, writable=writable)
        for program, accounts, data in instructions:
            b.add(Inv(program, accounts, data, [_jit(rng, 2000, 3000)]))
        return self._finish(
            j, b, ctx, (200_000 * max(1, len(instructions)), 0), [], dry_run=dry_run
        )

    # -- views for RPC ----------------------------------------------------------------------

    def account_view(self, address: str) -> AccountView | None:
        """Everything getAccountInfo needs about ``address``, or None when it does not exist."""
        m = self.mints.get(address)
        if m is not None:
            return AccountView(
                self.lamports_of(address),
                m.program,
                m.data(),
                False,
                _mint_json(m),
                _token_program_name(m.program),
            )
        t = self.tokens.get(address)
        if t is not None:
            token_2022 = t.program == P.TOKEN_2022_PROGRAM
            data = encode_token_account(
                mint=t.mint,
                owner=t.owner,
                amount=t.amount,
                state=2 if t.frozen else 1,
                is_native=rent_exempt_lamports(P.TOKEN_ACCOUNT_LEN) if t.native else None,
                token_2022=token_2022,
            )
            return AccountView(
                self.lamports_of(address),
                t.program,
                data,
                False,
                self._token_json(t),
                _token_program_name(t.program),
            )
        curve = self.curve_by_address.get(address)
        if curve is not None:
            data = encode_bonding_curve(curve.account())
            return AccountView(self.lamports_of(address), P.PUMP_PROGRAM, data, False)
        pool = self.pool_by_address.get(address)
        if pool is not None:
            data = encode_pool(pool.account())
            return AccountView(
                self.lamports_of(address), P.PUMPSWAP_PROGRAM, data + bytes(301 - len(data)), False
            )
        lamports = self.lamports_of(address)
        if address in EXECUTABLE:
            loader = (
                "NativeLoader1111111111111111111111111111111"
                if address in (P.SYSTEM_PROGRAM, P.COMPUTE_BUDGET_PROGRAM)
                else "BPFLoaderUpgradeab1e11111111111111111111111"
            )
            return AccountView(lamports, loader, bytes(36), True)
        if lamports > 0:
            return AccountView(lamports, P.SYSTEM_PROGRAM, b"", False)
        return None

    def _token_json(self, t: TokenAcct) -> dict[str, Any]:
        decimals = P.WSOL_DECIMALS if t.mint == P.WSOL_MINT else self.mints[t.mint].decimals
        ui, text = ui_amount(t.amount, decimals)
        info: dict[str, Any] = {
            "isNative": t.native,
            "mint": t.mint,
            "owner": t.owner,
            "state": "frozen" if t.frozen else "initialized",
            "tokenAmount": {
                "amount": str(t.amount),
                "decimals": decimals,
                "uiAmount": ui or 0.0,
                "uiAmountString": text,
            },
        }
        if t.native:
            info["rentExemptReserve"] = {
                "amount": str(rent_exempt_lamports(P.TOKEN_ACCOUNT_LEN)),
                "decimals": 9,
                "uiAmount": 0.00203928,
                "uiAmountString": "0.00203928",
            }
        if t.program == P.TOKEN_2022_PROGRAM:
            info["extensions"] = [{"extension": "immutableOwner"}]
        return {"info": info, "type": "account"}

    def largest_accounts(self, mint: str, limit: int = 20) -> list[TokenAcct]:
        """The biggest holders of ``mint`` (getTokenLargestAccounts), largest first."""
        accts = [self.tokens[a] for a in self.holders.get(mint, {})]
        accts.sort(key=lambda t: (-t.amount, t.address))
        return accts[:limit]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _token_program_name(program: str) -> str:
    return "spl-token-2022" if program == P.TOKEN_2022_PROGRAM else "spl-token"


def _mint_json(m: MintState) -> dict[str, Any]:
    info: dict[str, Any] = {
        "decimals": m.decimals,
        "freezeAuthority": m.freeze_authority,
        "isInitialized": True,
        "mintAuthority": m.mint_authority,
        "supply": str(m.supply),
    }
    extensions: list[dict[str, Any]] = []
    if m.transfer_fee_bps is not None:
        tf = {
            "epoch": 0,
            "maximumFee": m.transfer_fee_max,
            "transferFeeBasisPoints": m.transfer_fee_bps,
        }
        extensions.append(
            {
                "extension": "transferFeeConfig",
                "state": {
                    "newerTransferFee": tf,
                    "olderTransferFee": tf,
                    "transferFeeConfigAuthority": m.creator,
                    "withdrawWithheldAuthority": m.creator,
                    "withheldAmount": 0,
                },
            }
        )
    if m.metadata_in_mint:
        extensions.append(
            {
                "extension": "metadataPointer",
                "state": {"authority": None, "metadataAddress": m.address},
            }
        )
        extensions.append(
            {
                "extension": "tokenMetadata",
                "state": {
                    "additionalMetadata": [],
                    "mint": m.address,
                    "name": m.name,
                    "symbol": m.symbol,
                    "updateAuthority": None,
                    "uri": m.uri,
                },
            }
        )
    if extensions:
        info["extensions"] = extensions
    return {"info": info, "type": "mint"}
