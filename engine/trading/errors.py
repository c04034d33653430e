"""Errors of the trading package; each says what is wrong in words a user can act on."""

from __future__ import annotations


class TradingError(Exception):
    """Base of the trading errors."""


class OrderParamsError(TradingError, ValueError):
    """Order or rule parameters are invalid; ``errors`` holds one message per field."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class OrderNotFound(TradingError, LookupError):
    """No such order for this user."""


class QuoteUnavailable(TradingError):
    """No fresh quote could be had; the exit is retried by the safety-net job."""
