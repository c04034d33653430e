"""Confirmation of what ingest published at ``processed``: confirm it, or retract it.

At ``processed`` a transaction is announced as soon as one validator has executed it, about a
second before the cluster votes it ``confirmed``; now and then its fork is abandoned and it
never lands. Ingest publishes its events at once (that second is the point of ``processed``)
and hands the signature to a :class:`ConfirmationTracker`, which asks the provider with
``getSignatureStatuses`` (up to 256 signatures a call, a few calls every ``poll_s``):
``confirmed``/``finalized`` forgets it; still unknown or only ``processed`` once the slot
clock is ``expiry_slots`` past the transaction's slot (150 = a blockhash's life: after that it
can no longer land) publishes a :class:`~engine.events.Retraction` per mint it touched.

Memory is bounded (``capacity`` signatures; past it the least recently checked is forgotten
unverified, counted in ``unverified``). RPC errors are logged and the next poll asks again: a
signature is retracted only on an answer, never for want of one. What is tracked when ingest
stops is not retracted (its confirmation is not known).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from engine.chain.rpc import MAX_SIGNATURES_PER_STATUS_CALL, RpcError, SignatureStatus
from engine.events import Retraction
from engine.observability import metrics as M

log = logging.getLogger(__name__)

StatusLookup = Callable[[Sequence[str]], Awaitable[list[SignatureStatus | None]]]


@dataclass(slots=True)
class _Tracked:
    slot: int
    mints: tuple[str, ...]


class ConfirmationTracker:
    """Signatures published at ``processed``, awaiting confirmation; see the module docstring."""

    def __init__(
        self,
        statuses: StatusLookup,
        retract: Callable[[Sequence[Retraction]], None],
        head_slot: Callable[[], int],
        *,
        expiry_slots: int = 150,
        poll_s: float = 0.4,
        calls_per_poll: int = 8,
        capacity: int = 200_000,
        on_expired: Callable[[str], object] = lambda signature: None,
    ) -> None:
        if expiry_slots < 1 or calls_per_poll < 1 or capacity < 1:
            raise ValueError("expiry_slots, calls_per_poll and capacity must be positive")
        self._statuses = statuses
        self._retract = retract
        self._head_slot = head_slot
        self.expiry_slots = expiry_slots
        self._poll_s = poll_s
        self._calls = calls_per_poll
        self._capacity = capacity
        self._on_expired = on_expired
        self._tracked: OrderedDict[str, _Tracked] = OrderedDict()
        self._seen_slot = 0
        self.confirmed = 0
        self.retracted = 0
        self.unverified = 0
        self.rpc_errors = 0

    def __len__(self) -> int:
        return len(self._tracked)

    def __contains__(self, signature: object) -> bool:
        return signature in self._tracked

    def track(self, signature: str, slot: int, mints: Iterable[str]) -> None:
        """Await the confirmation of ``signature`` (seen at ``slot``), whose events were
        published for ``mints`` (none: only ``on_expired`` is told if it never confirms)."""
        unique = tuple(dict.fromkeys(mints))
        if signature in self._tracked:
            return
        self._tracked[signature] = _Tracked(slot, unique)
        if len(self._tracked) > self._capacity:
            self._tracked.popitem(last=False)
            self.unverified += 1
            if self.unverified == 1 or self.unverified % 10_000 == 0:
                log.warning(
                    "confirmation tracker full (%d): %d signatures forgotten unverified",
                    self._capacity,
                    self.unverified,
                )
        M.INGEST_UNCONFIRMED.set(len(self._tracked))

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await asyncio.sleep(self._poll_s)
            await self.poll_once()

    async def poll_once(self) -> None:
        """One round: up to ``calls_per_poll`` calls of 256 signatures, least recently
        checked first; confirmed ones are forgotten, expired ones retracted."""
        tracked = self._tracked
        left = min(len(tracked), self._calls * MAX_SIGNATURES_PER_STATUS_CALL)
        while left > 0:
            size = min(left, MAX_SIGNATURES_PER_STATUS_CALL)
            left -= size
            chunk = [sig for sig, _ in zip(tracked, range(size), strict=False)]
            try:
                statuses = await self._statuses(chunk)
            except (RpcError, OSError) as exc:
                self.rpc_errors += 1
                log.warning("getSignatureStatuses failed (%s): asking again next poll", exc)
                break
            head = max(self._head_slot(), self._seen_slot)
            retractions: list[Retraction] = []
            for sig, status in zip(chunk, statuses, strict=True):
                entry = tracked.get(sig)
                if entry is None:
                    continue
                if status is not None:
                    self._seen_slot = max(self._seen_slot, status.slot)
                    if status.confirmation_status in ("confirmed", "finalized"):
                        del tracked[sig]
                        self.confirmed += 1
                        continue
                if head - entry.slot >= self.expiry_slots:
                    del tracked[sig]
                    self._on_expired(sig)
                    if not entry.mints:
                        continue
                    self.retracted += 1
                    M.INGEST_RETRACTED.inc()
                    retractions.extend(Retraction(sig, mint, entry.slot) for mint in entry.mints)
                    log.warning(
                        "transaction %s seen at processed in slot %d was not confirmed by "
                        "slot %d: retracting its events",
                        sig,
                        entry.slot,
                        head,
                    )
                    continue
                tracked.move_to_end(sig)  # others get their turn before it is asked again
            if retractions:
                self._retract(retractions)
        M.INGEST_UNCONFIRMED.set(len(tracked))
