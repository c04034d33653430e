"""Conversation memory per user: the last exchanges, bounded in turns, characters and time.

Only validated text is kept (the user's question and the answer as sent, without disclaimer);
tool results are not, so a follow-up question looks its data up again. Memory is in-process:
a restart or another worker starts the conversation afresh, which is acceptable for chat.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

from engine.clock import Clock


@dataclass(frozen=True, slots=True)
class Exchange:
    """One question and its answer."""

    question: str
    answer: str
    ts: int


class ConversationMemory:
    """The last ``max_turns`` exchanges per user, at most ``max_chars`` in all, idle-expired."""

    def __init__(
        self,
        clock: Clock,
        *,
        max_turns: int = 4,
        max_chars: int = 4_000,
        idle_ms: int = 3_600_000,
        max_users: int = 10_000,
    ) -> None:
        self._clock = clock
        self.max_turns = max_turns
        self.max_chars = max_chars
        self.idle_ms = idle_ms
        self.max_users = max_users
        self._by_user: OrderedDict[int, deque[Exchange]] = OrderedDict()

    def history(self, user_id: int) -> list[Exchange]:
        """The user's remembered exchanges, oldest first (empty after ``idle_ms`` of silence)."""
        turns = self._by_user.get(user_id)
        if not turns:
            return []
        if self._clock.now_ms() - turns[-1].ts > self.idle_ms:
            del self._by_user[user_id]
            return []
        return list(turns)

    def add(self, user_id: int, question: str, answer: str) -> None:
        """Remember an exchange, dropping the oldest ones beyond the bounds."""
        turns = self._by_user.pop(user_id, None) or deque()
        # A single exchange longer than the whole budget is clipped rather than lost.
        half = self.max_chars // 2
        turns.append(Exchange(question[:half], answer[:half], self._clock.now_ms()))
        while len(turns) > self.max_turns or (
            len(turns) > 1 and sum(len(e.question) + len(e.answer) for e in turns) > self.max_chars
        ):
            turns.popleft()
        self._by_user[user_id] = turns
        while len(self._by_user) > self.max_users:
            self._by_user.popitem(last=False)

    def forget(self, user_id: int) -> None:
        """Drop a user's conversation (``/reset``)."""
        self._by_user.pop(user_id, None)

    def messages(self, user_id: int) -> list[dict[str, str]]:
        """The history as alternating user/assistant Messages API turns."""
        out: list[dict[str, str]] = []
        for e in self.history(user_id):
            out.append({"role": "user", "content": e.question})
            out.append({"role": "assistant", "content": e.answer})
        return out
