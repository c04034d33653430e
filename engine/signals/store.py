"""Persist fired signals through the signals repository, with ids from an :class:`IdMaker`."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from engine.ids import IdMaker
from engine.signals.scorer import Signal
from engine.storage.models import Signal as StoredSignal
from engine.storage.repos.signals import add_signal

logger = logging.getLogger(__name__)


async def save_signal(session: AsyncSession, *, signal: Signal, ids: IdMaker) -> StoredSignal:
    """Store a signal with its components, inputs, fired rules and risk; returns the row.

    The id comes from ``ids`` (its clock orders ids): replay and backtests pass an IdMaker over
    a FixedClock set to the signal's ``ts`` so stored ids are reproducible too.
    """
    row = await add_signal(session, id=ids.next_id(), **signal.storage_kwargs())
    logger.debug("stored signal %s for %s at %s", row.id, signal.mint, signal.ts)
    return row
