"""Smart Activity rows: the user's wallets, their aliases, the fill's price and market cap."""

from __future__ import annotations

from engine.events import ChainEvent
from engine.smartmoney.activity import smart_activity
from engine.storage.repos import users, wallets
from tests.conftest import Db

MINT = "7nYhDYAxQdFn2DRPcjBFPQQz5qb8HeFiJv9o9w6fpump"
A = "4DdrfiDHpmx55i4SPssxVzS9ZaKLb8qr45NKY9Er9nNh"
B = "G2341KGbNxuSAfCfqNuPhfLQtPB94hPfgyVPC89Faor4"


def fill(sig: str, trader: str, ts: int) -> ChainEvent:
    return ChainEvent(
        kind="trade", venue="pumpfun", signature=sig, slot=1, ts=ts, mint=MINT,
        trader=trader, side="buy", sol_lamports=1_000_000_000, token_amount=34_612_901_212_710,
    )  # fmt: skip


async def test_activity_for_a_user_with_price_and_market_cap(db: Db, clock) -> None:  # type: ignore[no-untyped-def]
    now = clock.now_ms()
    async with db.sessions.begin() as s:
        user = await users.get_or_create_telegram_user(s, telegram_id=5, now_ms=now)
        await wallets.watch(s, user_id=user.id, address=A, alias="alpha", tags=["kol"], now_ms=now)
        await wallets.record_smart_trades(s, events=[fill("s1", A, 10), fill("s2", B, 20)])
    async with db.sessions() as s:
        rows = await smart_activity(s, since_ms=0, user_id=user.id)
        everyone = await smart_activity(s, since_ms=0)
        kols = await smart_activity(s, since_ms=0, tag="kol")
    assert [(r.signature, r.alias) for r in rows] == [("s1", "alpha")]
    row = rows[0]
    # 1 SOL for 34,612,901.212710 tokens: price and the 1e9-token supply's value at that price.
    assert row.market_cap_lamports == 1_000_000_000 * 1_000_000_000_000_000 // 34_612_901_212_710
    assert abs(row.price_lamports_per_token - 1e9 / 34_612_901_212_710) < 1e-12
    assert [r.signature for r in everyone] == ["s2", "s1"]
    assert [r.signature for r in kols] == ["s1"]
