"""Deterministic human formatting for explanations: SOL amounts, wallets, percentages, spans."""

from __future__ import annotations

from collections.abc import Mapping


def fmt_sol(lamports: int) -> str:
    """Lamports as SOL with up to 3 decimals, trailing zeros dropped: ``12.5 SOL``."""
    sign = "-" if lamports < 0 else ""
    milli = (abs(lamports) + 500_000) // 1_000_000  # round half up to 0.001 SOL, in integers
    whole, frac = divmod(milli, 1_000)
    text = f"{whole}.{frac:03d}".rstrip("0").rstrip(".")
    return f"{sign}{text} SOL"


def short_address(address: str) -> str:
    """``7xKX…9abc`` for long base58 addresses; short strings unchanged."""
    return address if len(address) <= 12 else f"{address[:4]}…{address[-4:]}"


def wallet_name(address: str, aliases: Mapping[str, str]) -> str:
    """The wallet's alias when the watchlist gives one, else its shortened address."""
    alias = aliases.get(address)
    return alias if alias else short_address(address)


def fmt_pct(fraction: float) -> str:
    """A fraction as a signed percentage with one decimal: ``+12.5%``."""
    return f"{fraction * 100:+.1f}%"


def fmt_span(ms: int) -> str:
    """A span in minutes: ``5m``."""
    return f"{ms // 60_000}m" if ms % 60_000 == 0 else f"{ms / 1000:g}s"


def rounded(value: object, places: int = 4) -> object:
    """A JSON-ready copy with every float rounded, so stored and printed values agree."""
    if isinstance(value, float):
        return round(value, places)
    if isinstance(value, dict):
        return {k: rounded(v, places) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v, places) for v in value]
    return value
