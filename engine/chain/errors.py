"""Errors and counters shared by the chain decoders."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


class DecodeError(ValueError):
    """Input is not what a decoder accepts; the message names what is wrong."""


@dataclass(slots=True)
class DecodeStats:
    """Counters a caller (the ingest supervisor, ``solai decode``) passes into the decoders.

    Envelope problems (not a transaction, not a logsNotification) raise :class:`DecodeError`;
    a payload that carries a known discriminator but does not parse is skipped, counted in
    ``decode_errors`` and named in ``errors_by_reason``, and decoding goes on.
    """

    notifications: int = 0
    transactions: int = 0
    events: int = 0
    failed_transactions: int = 0
    decode_errors: int = 0
    errors_by_reason: Counter[str] = field(default_factory=Counter)

    def error(self, reason: str) -> None:
        """Count one payload that could not be decoded."""
        self.decode_errors += 1
        self.errors_by_reason[reason] += 1
