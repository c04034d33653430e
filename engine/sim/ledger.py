"""The published history of the simulated chain: what getTransaction, getSignaturesForAddress
and getSignatureStatuses answer from. Only transactions already emitted are visible.

Like a real RPC node it forgets old history past ``history_limit`` transactions, so a long
benchmark does not grow without bound.
"""

from __future__ import annotations

import logging
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator

from engine.sim.tx import SimTx

logger = logging.getLogger(__name__)


class Ledger:
    """Emitted transactions, indexed by signature and by every account key they mention."""

    def __init__(self, history_limit: int = 1_000_000) -> None:
        if history_limit < 1:
            raise ValueError("history_limit must be positive")
        self.history_limit = history_limit
        self._by_signature: dict[str, SimTx] = {}
        self._log: list[SimTx | None] = []
        self._base = 0  # seq of _log[0]
        self._by_address: dict[str, array[int]] = {}
        self.next_seq = 0
        self.min_seq = 0
        self.slot = 0

    def __len__(self) -> int:
        return self.next_seq - self.min_seq

    def publish(self, tx: SimTx, emitted_ns: int) -> None:
        """Make ``tx`` visible to RPC readers."""
        tx.seq = self.next_seq
        tx.emitted_ns = emitted_ns
        self.next_seq += 1
        self._by_signature[tx.signature] = tx
        self._log.append(tx)
        index = self._by_address
        seq = tx.seq
        for key in tx.account_keys:
            arr = index.get(key)
            if arr is None:
                index[key] = array("q", (seq,))
            else:
                arr.append(seq)
        if tx.slot > self.slot:
            self.slot = tx.slot
        if self.next_seq - self.min_seq > self.history_limit:
            self._evict()

    def _evict(self) -> None:
        old = self._log[self.min_seq - self._base]
        self._log[self.min_seq - self._base] = None
        if old is not None:
            self._by_signature.pop(old.signature, None)
        self.min_seq += 1
        # Compact occasionally so the list does not keep a long dead prefix.
        if self.min_seq - self._base > self.history_limit:
            del self._log[: self.min_seq - self._base]
            self._base = self.min_seq

    def get(self, signature: str) -> SimTx | None:
        """The transaction with this signature, if emitted and not yet forgotten."""
        return self._by_signature.get(signature)

    def signatures_for(
        self,
        address: str,
        *,
        before: str | None = None,
        until: str | None = None,
        limit: int = 1000,
    ) -> list[SimTx]:
        """Transactions mentioning ``address``, newest first, paged like the real method."""
        arr = self._by_address.get(address)
        if arr is None:
            return []
        hi = len(arr)
        if before is not None:
            tx = self._by_signature.get(before)
            if tx is None:
                return []
            hi = bisect_left(arr, tx.seq)
        lo = bisect_left(arr, self.min_seq)
        if until is not None:
            tx = self._by_signature.get(until)
            if tx is not None:
                lo = max(lo, bisect_right(arr, tx.seq))
        start = max(lo, hi - limit)
        out: list[SimTx] = []
        for i in range(hi - 1, start - 1, -1):
            found = self._log[arr[i] - self._base]
            if found is not None:
                out.append(found)
        return out

    def __iter__(self) -> Iterator[SimTx]:
        for tx in self._log:
            if tx is not None:
                yield tx
