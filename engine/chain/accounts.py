"""Binary account layouts: SPL Token / Token-2022 mints and token accounts, pump.fun bonding
curves and PumpSwap pools, read and written byte for byte as the programs store them.

Readers are used by risk checks on ``getAccountInfo`` data; writers are used by the chain
simulator. A short or inconsistent buffer raises :class:`AccountLayoutError` naming the field.

Layouts: spl-token ``state.rs`` (Mint 82 bytes, Account 165 bytes, ``COption`` = u32 tag + value);
Token-2022 appends an account-type byte at offset 165 and TLV extensions (u16 type, u16 length);
pump ``BondingCurve`` and PumpSwap ``Pool`` follow the 2026-05 IDLs (Anchor: 8-byte
discriminator, then borsh).
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from typing import Final

from solders.pubkey import Pubkey

from engine.chain.pda import key_bytes
from engine.chain.programs import (
    MINT_ACCOUNT_LEN,
    PUMP_BONDING_CURVE_ACCOUNT,
    PUMP_BONDING_CURVE_ACCOUNT_LEN,
    PUMPSWAP_POOL_ACCOUNT,
    SYSTEM_PROGRAM,
    TOKEN_ACCOUNT_LEN,
)

logger = logging.getLogger(__name__)

# Token-2022 ExtensionType values (spl-token-2022 ``extension/mod.rs``).
EXT_TRANSFER_FEE_CONFIG: Final = 1
EXT_IMMUTABLE_OWNER: Final = 7
EXT_METADATA_POINTER: Final = 18
EXT_TOKEN_METADATA: Final = 19
# Token-2022 AccountType byte written after the 165-byte base.
ACCOUNT_TYPE_MINT: Final = 1
ACCOUNT_TYPE_ACCOUNT: Final = 2

TOKEN_STATE_UNINITIALIZED: Final = 0
TOKEN_STATE_INITIALIZED: Final = 1
TOKEN_STATE_FROZEN: Final = 2

_ZERO_KEY: Final = bytes(32)


class AccountLayoutError(ValueError):
    """Account data does not match the expected layout; the message names the field."""


def _key(raw: bytes) -> str:
    return str(Pubkey.from_bytes(raw))


_key_bytes = key_bytes


def _optional_nonzero_key(raw: bytes) -> str | None:
    # Token-2022 ``OptionalNonZeroPubkey``: all zeroes means None.
    return None if raw == _ZERO_KEY else _key(raw)


def _coption_key(buf: bytes, offset: int, what: str) -> str | None:
    (tag,) = struct.unpack_from("<I", buf, offset)
    if tag == 0:
        return None
    if tag != 1:
        raise AccountLayoutError(f"{what}: COption tag must be 0 or 1, got {tag}")
    return _key(buf[offset + 4 : offset + 36])


def _encode_coption_key(key: str | None) -> bytes:
    if key is None:
        return bytes(36)
    return b"\x01\x00\x00\x00" + _key_bytes(key)


@dataclass(frozen=True, slots=True)
class TransferFee:
    """One epoch-scoped transfer fee of the Token-2022 TransferFeeConfig extension."""

    epoch: int
    maximum_fee: int
    basis_points: int


@dataclass(frozen=True, slots=True)
class TransferFeeConfig:
    """Token-2022 TransferFeeConfig: a fee withheld on every transfer of the token."""

    config_authority: str | None
    withdraw_withheld_authority: str | None
    withheld_amount: int
    older: TransferFee
    newer: TransferFee


@dataclass(frozen=True, slots=True)
class MetadataPointer:
    """Token-2022 MetadataPointer: where the token's metadata lives (often the mint itself)."""

    authority: str | None
    metadata_address: str | None


@dataclass(frozen=True, slots=True)
class TokenMetadata:
    """Token-2022 TokenMetadata (spl-token-metadata-interface), stored in the mint."""

    update_authority: str | None
    mint: str
    name: str
    symbol: str
    uri: str
    additional_metadata: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MintInfo:
    """A decoded mint: the 82-byte base and, for Token-2022, the extensions we understand."""

    mint_authority: str | None
    supply: int
    decimals: int
    is_initialized: bool
    freeze_authority: str | None
    transfer_fee_config: TransferFeeConfig | None = None
    metadata_pointer: MetadataPointer | None = None
    token_metadata: TokenMetadata | None = None
    extension_types: tuple[int, ...] = field(default=())


def parse_mint(data: bytes) -> MintInfo:
    """Decode SPL Token or Token-2022 mint data, including TLV extensions when present."""
    if len(data) < MINT_ACCOUNT_LEN:
        raise AccountLayoutError(f"mint: needs at least 82 bytes, got {len(data)}")
    mint_authority = _coption_key(data, 0, "mint.mint_authority")
    supply, decimals, initialized = struct.unpack_from("<QBB", data, 36)
    if initialized not in (0, 1):
        raise AccountLayoutError(f"mint.is_initialized: must be 0 or 1, got {initialized}")
    freeze_authority = _coption_key(data, 46, "mint.freeze_authority")
    info = MintInfo(mint_authority, supply, decimals, bool(initialized), freeze_authority)
    if len(data) == MINT_ACCOUNT_LEN:
        return info
    if len(data) <= TOKEN_ACCOUNT_LEN:
        raise AccountLayoutError(
            f"mint: {len(data)} bytes is neither a plain mint (82) nor a Token-2022 mint (>165)"
        )
    if data[MINT_ACCOUNT_LEN:TOKEN_ACCOUNT_LEN] != bytes(TOKEN_ACCOUNT_LEN - MINT_ACCOUNT_LEN):
        raise AccountLayoutError("mint: Token-2022 padding between 82 and 165 is not zero")
    if data[TOKEN_ACCOUNT_LEN] != ACCOUNT_TYPE_MINT:
        raise AccountLayoutError(
            f"mint: Token-2022 account type byte is {data[TOKEN_ACCOUNT_LEN]}, not 1 (Mint)"
        )
    return _parse_mint_extensions(info, data, TOKEN_ACCOUNT_LEN + 1)


def _parse_mint_extensions(info: MintInfo, data: bytes, offset: int) -> MintInfo:
    types: list[int] = []
    fee: TransferFeeConfig | None = None
    pointer: MetadataPointer | None = None
    metadata: TokenMetadata | None = None
    while offset + 4 <= len(data):
        ext_type, length = struct.unpack_from("<HH", data, offset)
        offset += 4
        if ext_type == 0:
            break  # Uninitialized: the rest is unused space
        value = data[offset : offset + length]
        if len(value) != length:
            raise AccountLayoutError(
                f"mint extension {ext_type}: declares {length} bytes, {len(value)} left"
            )
        offset += length
        types.append(ext_type)
        if ext_type == EXT_TRANSFER_FEE_CONFIG:
            fee = _parse_transfer_fee_config(value)
        elif ext_type == EXT_METADATA_POINTER:
            if length != 64:
                raise AccountLayoutError(f"MetadataPointer: must be 64 bytes, got {length}")
            pointer = MetadataPointer(
                _optional_nonzero_key(value[:32]), _optional_nonzero_key(value[32:64])
            )
        elif ext_type == EXT_TOKEN_METADATA:
            metadata = _parse_token_metadata(value)
    return MintInfo(
        info.mint_authority,
        info.supply,
        info.decimals,
        info.is_initialized,
        info.freeze_authority,
        fee,
        pointer,
        metadata,
        tuple(types),
    )


def _parse_transfer_fee_config(value: bytes) -> TransferFeeConfig:
    if len(value) != 108:
        raise AccountLayoutError(f"TransferFeeConfig: must be 108 bytes, got {len(value)}")
    withheld, e1, m1, b1, e2, m2, b2 = struct.unpack_from("<QQQHQQH", value, 64)
    return TransferFeeConfig(
        _optional_nonzero_key(value[:32]),
        _optional_nonzero_key(value[32:64]),
        withheld,
        TransferFee(e1, m1, b1),
        TransferFee(e2, m2, b2),
    )


def _parse_token_metadata(value: bytes) -> TokenMetadata:
    try:
        update_authority = _optional_nonzero_key(value[:32])
        mint = _key(value[32:64])
        offset = 64
        strings: list[str] = []
        for _ in range(3):
            (n,) = struct.unpack_from("<I", value, offset)
            strings.append(value[offset + 4 : offset + 4 + n].decode())
            offset += 4 + n
        (count,) = struct.unpack_from("<I", value, offset)
        offset += 4
        pairs: list[tuple[str, str]] = []
        for _ in range(count):
            kv: list[str] = []
            for _ in range(2):
                (n,) = struct.unpack_from("<I", value, offset)
                kv.append(value[offset + 4 : offset + 4 + n].decode())
                offset += 4 + n
            pairs.append((kv[0], kv[1]))
    except (struct.error, UnicodeDecodeError, ValueError) as exc:
        raise AccountLayoutError(f"TokenMetadata: {exc}") from exc
    return TokenMetadata(update_authority, mint, strings[0], strings[1], strings[2], tuple(pairs))


def _borsh_str(s: str) -> bytes:
    raw = s.encode()
    return struct.pack("<I", len(raw)) + raw


def _tlv(ext_type: int, value: bytes) -> bytes:
    return struct.pack("<HH", ext_type, len(value)) + value


def encode_mint(info: MintInfo, *, token_2022: bool) -> bytes:
    """Serialize a mint as the token program stores it (Token-2022: base, padding, type, TLVs)."""
    base = (
        _encode_coption_key(info.mint_authority)
        + struct.pack("<QBB", info.supply, info.decimals, int(info.is_initialized))
        + _encode_coption_key(info.freeze_authority)
    )
    if not token_2022:
        return base
    out = bytearray(base)
    out += bytes(TOKEN_ACCOUNT_LEN - MINT_ACCOUNT_LEN)
    out.append(ACCOUNT_TYPE_MINT)
    if info.transfer_fee_config is not None:
        c = info.transfer_fee_config
        out += _tlv(
            EXT_TRANSFER_FEE_CONFIG,
            (_key_bytes(c.config_authority) if c.config_authority else _ZERO_KEY)
            + (
                _key_bytes(c.withdraw_withheld_authority)
                if c.withdraw_withheld_authority
                else _ZERO_KEY
            )
            + struct.pack(
                "<QQQHQQH",
                c.withheld_amount,
                c.older.epoch,
                c.older.maximum_fee,
                c.older.basis_points,
                c.newer.epoch,
                c.newer.maximum_fee,
                c.newer.basis_points,
            ),
        )
    if info.metadata_pointer is not None:
        p = info.metadata_pointer
        out += _tlv(
            EXT_METADATA_POINTER,
            (_key_bytes(p.authority) if p.authority else _ZERO_KEY)
            + (_key_bytes(p.metadata_address) if p.metadata_address else _ZERO_KEY),
        )
    if info.token_metadata is not None:
        m = info.token_metadata
        body = (
            (_key_bytes(m.update_authority) if m.update_authority else _ZERO_KEY)
            + _key_bytes(m.mint)
            + _borsh_str(m.name)
            + _borsh_str(m.symbol)
            + _borsh_str(m.uri)
            + struct.pack("<I", len(m.additional_metadata))
            + b"".join(_borsh_str(k) + _borsh_str(v) for k, v in m.additional_metadata)
        )
        out += _tlv(EXT_TOKEN_METADATA, body)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class TokenAccountInfo:
    """A decoded SPL token account (the 165-byte base; Token-2022 extensions are skipped)."""

    mint: str
    owner: str
    amount: int
    delegate: str | None
    state: int
    is_native: int | None
    delegated_amount: int
    close_authority: str | None

    @property
    def is_frozen(self) -> bool:
        """True when the mint's freeze authority has frozen this account."""
        return self.state == TOKEN_STATE_FROZEN


def parse_token_account(data: bytes) -> TokenAccountInfo:
    """Decode an SPL Token or Token-2022 token account."""
    if len(data) < TOKEN_ACCOUNT_LEN:
        raise AccountLayoutError(f"token account: needs 165 bytes, got {len(data)}")
    (amount,) = struct.unpack_from("<Q", data, 64)
    delegate = _coption_key(data, 72, "token_account.delegate")
    state = data[108]
    if state > TOKEN_STATE_FROZEN:
        raise AccountLayoutError(f"token_account.state: must be 0..2, got {state}")
    (native_tag,) = struct.unpack_from("<I", data, 109)
    is_native = struct.unpack_from("<Q", data, 113)[0] if native_tag == 1 else None
    (delegated,) = struct.unpack_from("<Q", data, 121)
    close_authority = _coption_key(data, 129, "token_account.close_authority")
    return TokenAccountInfo(
        _key(data[:32]),
        _key(data[32:64]),
        amount,
        delegate,
        state,
        is_native,
        delegated,
        close_authority,
    )


def encode_token_account(
    *,
    mint: str,
    owner: str,
    amount: int,
    state: int = TOKEN_STATE_INITIALIZED,
    is_native: int | None = None,
    token_2022: bool = False,
) -> bytes:
    """Serialize a token account; Token-2022 accounts carry ImmutableOwner as ATAs do."""
    out = (
        _key_bytes(mint)
        + _key_bytes(owner)
        + struct.pack("<Q", amount)
        + bytes(36)
        + bytes([state])
        + (struct.pack("<IQ", 1, is_native) if is_native is not None else bytes(12))
        + bytes(8)
        + bytes(36)
    )
    if token_2022:
        out += bytes([ACCOUNT_TYPE_ACCOUNT]) + _tlv(EXT_IMMUTABLE_OWNER, b"")
    return out


@dataclass(frozen=True, slots=True)
class BondingCurveAccount:
    """pump.fun ``BondingCurve`` (2026-05 IDL; the quote side is SOL unless ``quote_mint``)."""

    virtual_token_reserves: int
    virtual_quote_reserves: int
    real_token_reserves: int
    real_quote_reserves: int
    token_total_supply: int
    complete: bool
    creator: str = SYSTEM_PROGRAM
    is_mayhem_mode: bool = False
    is_cashback_coin: bool = False
    quote_mint: str = SYSTEM_PROGRAM


_CURVE_HEAD: Final = struct.Struct("<QQQQQ?")


def encode_bonding_curve(curve: BondingCurveAccount) -> bytes:
    """Serialize a bonding curve account, padded to its mainnet size (151 bytes)."""
    raw = (
        PUMP_BONDING_CURVE_ACCOUNT
        + _CURVE_HEAD.pack(
            curve.virtual_token_reserves,
            curve.virtual_quote_reserves,
            curve.real_token_reserves,
            curve.real_quote_reserves,
            curve.token_total_supply,
            curve.complete,
        )
        + _key_bytes(curve.creator)
        + bytes([curve.is_mayhem_mode, curve.is_cashback_coin])
        + _key_bytes(curve.quote_mint)
    )
    return raw + bytes(PUMP_BONDING_CURVE_ACCOUNT_LEN - len(raw))


def parse_bonding_curve(data: bytes) -> BondingCurveAccount:
    """Decode a bonding curve; older, shorter accounts get defaults for the missing tail."""
    if data[:8] != PUMP_BONDING_CURVE_ACCOUNT:
        raise AccountLayoutError("bonding curve: wrong Anchor discriminator")
    if len(data) < 8 + _CURVE_HEAD.size:
        raise AccountLayoutError(f"bonding curve: needs at least 49 bytes, got {len(data)}")
    vt, vq, rt, rq, supply, complete = _CURVE_HEAD.unpack_from(data, 8)
    creator = _key(data[49:81]) if len(data) >= 81 else SYSTEM_PROGRAM
    mayhem = bool(data[81]) if len(data) >= 82 else False
    cashback = bool(data[82]) if len(data) >= 83 else False
    quote_mint = _key(data[83:115]) if len(data) >= 115 else SYSTEM_PROGRAM
    return BondingCurveAccount(
        vt, vq, rt, rq, supply, complete, creator, mayhem, cashback, quote_mint
    )


@dataclass(frozen=True, slots=True)
class PoolAccount:
    """PumpSwap ``Pool`` (2026-05 IDL)."""

    pool_bump: int
    index: int
    creator: str
    base_mint: str
    quote_mint: str
    lp_mint: str
    pool_base_token_account: str
    pool_quote_token_account: str
    lp_supply: int
    coin_creator: str
    is_mayhem_mode: bool = False
    is_cashback_coin: bool = False


def encode_pool(pool: PoolAccount) -> bytes:
    """Serialize a PumpSwap pool account."""
    return (
        PUMPSWAP_POOL_ACCOUNT
        + struct.pack("<BH", pool.pool_bump, pool.index)
        + b"".join(
            _key_bytes(k)
            for k in (
                pool.creator,
                pool.base_mint,
                pool.quote_mint,
                pool.lp_mint,
                pool.pool_base_token_account,
                pool.pool_quote_token_account,
            )
        )
        + struct.pack("<Q", pool.lp_supply)
        + _key_bytes(pool.coin_creator)
        + bytes([pool.is_mayhem_mode, pool.is_cashback_coin])
    )


def parse_pool(data: bytes) -> PoolAccount:
    """Decode a PumpSwap pool account."""
    if data[:8] != PUMPSWAP_POOL_ACCOUNT:
        raise AccountLayoutError("pool: wrong Anchor discriminator")
    if len(data) < 243:
        raise AccountLayoutError(f"pool: needs at least 243 bytes, got {len(data)}")
    bump, index = struct.unpack_from("<BH", data, 8)
    k = [_key(data[11 + 32 * i : 43 + 32 * i]) for i in range(6)]
    (lp_supply,) = struct.unpack_from("<Q", data, 203)
    coin_creator = _key(data[211:243])
    mayhem = bool(data[243]) if len(data) > 243 else False
    cashback = bool(data[244]) if len(data) > 244 else False
    return PoolAccount(
        bump, index, k[0], k[1], k[2], k[3], k[4], k[5], lp_supply, coin_creator, mayhem, cashback
    )
