"""What the rest of the product asks of the agent; ``agent.service.AgentService`` implements it.

Every reply is plain text meant to be escaped by the renderer (the agent never emits markup),
already checked by the guardrails, and says whether it came from the model or a template.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class AgentReply:
    """An answer for a person: text, whether the template fallback wrote it, and its sources."""

    text: str
    fallback: bool = False
    sources: tuple[str, ...] = ()
    """Tool calls whose results the answer's figures come from (for "why did this fire?")."""


@dataclass(frozen=True, slots=True)
class RuleDraft:
    """A rule the agent drafted from a sentence, to be shown back for confirmation."""

    kind: str
    params: dict[str, Any]
    summary: str
    problems: tuple[str, ...] = field(default=())
    """Why the draft cannot be saved as is (empty when it validates)."""
    rules: tuple[dict[str, Any], ...] = field(default=())
    """Every ``rules`` row saving the draft would write (``name``/``kind``/``params``): the
    trigger above first, then the filters the sentence asked for. Empty when there are problems."""


class Agent(Protocol):
    """The agent's capabilities, as the bots and the API use them."""

    async def narrate(self, *, signal_id: int, ts: int, language: str = "en") -> str:
        """A guarded narrative (<= 400 chars) for a stored signal; cached per mint and version."""
        ...

    async def explain(self, *, user_id: int, mint: str, language: str = "en") -> AgentReply:
        """Why a token's latest signal fired (or why it did not)."""
        ...

    async def ask(self, *, user_id: int, question: str, language: str = "en") -> AgentReply:
        """A free question in private chat, answered from tool results only."""
        ...

    async def draft_rule(self, *, user_id: int, text: str, language: str = "en") -> RuleDraft:
        """Turn a sentence into the engine's rule model; never enables anything by itself."""
        ...
