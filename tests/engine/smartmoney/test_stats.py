"""Wallet stats computed by hand on small fill histories."""

from __future__ import annotations

from engine.smartmoney.stats import DAY_MS, Fill, compute_stats

SOL = 1_000_000_000
NOW = 100 * DAY_MS


def test_realized_unrealized_hit_rate_and_holding() -> None:
    fills = [
        # Round 1 on A: buy 1 SOL, sell half for 1 SOL, rest for 0.25 SOL -> +0.25 SOL, held 2 days
        Fill(NOW - 10 * DAY_MS, "A", "buy", SOL, 1_000),
        Fill(NOW - 9 * DAY_MS, "A", "sell", SOL, 500),
        Fill(NOW - 8 * DAY_MS, "A", "sell", SOL // 4, 500),
        # Round on B: buy 2 SOL, sell all for 1 SOL -> -1 SOL, held 1 day, 40 days ago
        Fill(NOW - 41 * DAY_MS, "B", "buy", 2 * SOL, 10),
        Fill(NOW - 40 * DAY_MS, "B", "sell", SOL, 10),
        # Open on C: 3 SOL for 300 tokens, now priced at 0.02 SOL each -> +3 SOL unrealized
        Fill(NOW - DAY_MS, "C", "buy", 3 * SOL, 300),
    ]
    stats = compute_stats(fills, now_ms=NOW, price_of=lambda m: 0.02 * SOL if m == "C" else None)
    assert stats.trades == 6
    assert stats.realized_lamports == SOL // 4 - SOL
    assert stats.unrealized_lamports == 6 * SOL - 3 * SOL
    assert stats.hit_rate == {7: None, 30: 1.0, 90: 0.5}
    assert stats.avg_buy_lamports == 2 * SOL
    assert stats.median_holding_ms == (2 * DAY_MS + DAY_MS) // 2
    assert stats.open_positions == 1


def test_unknown_price_makes_unrealized_unknown_and_sells_without_basis_are_ignored() -> None:
    fills = [Fill(1, "X", "sell", SOL, 5), Fill(2, "Y", "buy", SOL, 5)]
    stats = compute_stats(fills, now_ms=NOW, price_of=lambda m: None)
    assert stats.realized_lamports == 0
    assert stats.unrealized_lamports is None
    assert stats.hit_rate == {7: None, 30: None, 90: None}
