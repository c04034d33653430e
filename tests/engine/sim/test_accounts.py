"""Account layouts the simulator serves: SPL Token / Token-2022 mints (with extensions), token
accounts, bonding curves and pools, checked against solana-py's independent SPL layouts."""

from __future__ import annotations

import pytest
from spl.token._layouts import ACCOUNT_LAYOUT, MINT_LAYOUT

from engine.chain import programs as P
from engine.chain.accounts import (
    EXT_METADATA_POINTER,
    EXT_TOKEN_METADATA,
    EXT_TRANSFER_FEE_CONFIG,
    AccountLayoutError,
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
    parse_bonding_curve,
    parse_mint,
    parse_pool,
    parse_token_account,
)
from engine.chain.rpc import RpcClient
from tests.engine.sim.support import running_sim

DEV = "5htGpHK2oV9g2BcDqLdRBqjCLdy8mc3fsESfR5DU73eM"
MINT = "CWiTGbCiDd8BKtNYNE2boT9fJGFG2MU53Uf6HQk4pump"


def test_plain_mint_is_the_82_byte_spl_layout() -> None:
    info = MintInfo(None, 10**15, 6, True, DEV)
    data = encode_mint(info, token_2022=False)
    assert len(data) == 82
    spl = MINT_LAYOUT.parse(data)
    assert spl.mint_authority_option == 0
    assert spl.supply == 10**15 and spl.decimals == 6 and spl.is_initialized
    assert spl.freeze_authority_option == 1
    assert parse_mint(data) == info


def test_token_2022_mint_round_trips_its_extensions() -> None:
    fee = TransferFee(0, 10**12, 300)
    info = MintInfo(
        None,
        10**15,
        6,
        True,
        None,
        TransferFeeConfig(DEV, DEV, 0, fee, fee),
        MetadataPointer(None, MINT),
        TokenMetadata(None, MINT, "Tax Coin", "TAX", "https://x.example/t.json"),
        (EXT_TRANSFER_FEE_CONFIG, EXT_METADATA_POINTER, EXT_TOKEN_METADATA),
    )
    data = encode_mint(info, token_2022=True)
    assert data[165] == 1  # AccountType::Mint after the 165-byte base
    assert MINT_LAYOUT.parse(data[:82]).supply == 10**15
    assert parse_mint(data) == info


def test_bad_mint_data_names_the_problem() -> None:
    with pytest.raises(AccountLayoutError, match="82 bytes"):
        parse_mint(b"\x00" * 40)
    bad = bytearray(encode_mint(MintInfo(None, 1, 6, True, None), token_2022=False))
    bad[0] = 7
    with pytest.raises(AccountLayoutError, match="mint_authority"):
        parse_mint(bytes(bad))


def test_token_account_layout_and_frozen_state() -> None:
    data = encode_token_account(mint=MINT, owner=DEV, amount=42, state=2)
    spl = ACCOUNT_LAYOUT.parse(data)
    assert spl.amount == 42 and spl.state == 2
    parsed = parse_token_account(data)
    assert parsed.is_frozen and parsed.owner == DEV and parsed.mint == MINT


def test_curve_and_pool_round_trip() -> None:
    curve = BondingCurveAccount(1, 2, 3, 4, 5, True, DEV, False, True)
    data = encode_bonding_curve(curve)
    assert len(data) == P.PUMP_BONDING_CURVE_ACCOUNT_LEN
    assert parse_bonding_curve(data) == curve
    pool = PoolAccount(254, 0, DEV, MINT, P.WSOL_MINT, DEV, MINT, DEV, 99, DEV)
    assert parse_pool(encode_pool(pool)) == pool


async def test_served_mints_decode_with_spl_layouts() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url) as rpc:
        await sim.emit_until(lambda tx: any(e.kind == "pool_create" for e in tx.intended))
        tokens = sim.generator.tokens
        # A pump.fun create_v2 coin: Token-2022 with metadata in the mint, no authorities.
        moon = await rpc.get_account_info(tokens["MOON"].mint)
        assert moon is not None and moon.owner == P.TOKEN_2022_PROGRAM
        m = parse_mint(moon.data)
        assert (m.mint_authority, m.freeze_authority, m.supply) == (None, None, 10**15)
        assert m.token_metadata is not None and m.token_metadata.symbol == "MCAT"
        # The honeypot: a plain SPL mint whose dev kept the freeze authority.
        trap = await rpc.get_account_info(tokens["TRAP"].mint)
        assert trap is not None and trap.owner == P.TOKEN_PROGRAM and len(trap.data) == 82
        spl = MINT_LAYOUT.parse(trap.data)
        assert spl.freeze_authority_option == 1
        assert parse_mint(trap.data).freeze_authority == tokens["TRAP"].dev
        parsed = await rpc.get_account_info_parsed(tokens["TRAP"].mint)
        assert parsed is not None and parsed.parsed is not None
        assert parsed.program == "spl-token"
        assert parsed.parsed["info"]["freezeAuthority"] == tokens["TRAP"].dev
        # The curve account is the 2026 BondingCurve layout.
        curve = await rpc.get_account_info(sim.chain.curves[tokens["MOON"].mint].address)
        assert curve is not None and curve.owner == P.PUMP_PROGRAM
        assert parse_bonding_curve(curve.data).creator == tokens["MOON"].dev


async def test_transfer_fee_mint_is_served_with_its_extension() -> None:
    async with running_sim() as sim, RpcClient(sim.http_url) as rpc:
        fee_mint = sim.generator.tokens["FEE"].mint  # exists before its pool launches
        info = await rpc.get_account_info(fee_mint)
        assert info is not None
        m = parse_mint(info.data)
        assert m.transfer_fee_config is not None
        assert m.transfer_fee_config.newer.basis_points == 300
        parsed = await rpc.get_account_info_parsed(fee_mint)
        assert parsed is not None and parsed.parsed is not None
        ext = {e["extension"] for e in parsed.parsed["info"]["extensions"]}
        assert {"transferFeeConfig", "metadataPointer", "tokenMetadata"} <= ext
