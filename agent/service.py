"""``AgentService``: the :class:`agent.interface.Agent` the bots and the API call.

Every public method ends the same way: a text from the model (when there is an API key, budget
left and the API answers) that passed the guardrails, else, after one regeneration, a text from
the template narrator; and every text, template ones included, passes the final gate
(:meth:`Guard.validate`) before it leaves. Nothing here raises because the model failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent import briefs, drafting, lexicon, prompts, templates
from agent.guardrails import ANSWER_MAX, NARRATIVE_MAX, Facts, Guard, Violation, codes
from agent.interface import AgentReply, RuleDraft
from agent.memory import ConversationMemory
from agent.provider import ModelTurn, ModelUnavailable, Provider, user_ref
from agent.sanitize import clean_question, data_block
from agent.tools import ADDRESS, TOOLS, ToolBox, describe_call
from agent.usage import SYSTEM, UsageLedger
from engine.clock import Clock
from engine.deps import Deps
from engine.settings import Settings
from engine.storage.models import Signal
from engine.storage.repos import signals as signal_repo
from engine.storage.repos import tokens as token_repo

logger = logging.getLogger(__name__)

_AUTO: Final = object()
NARRATIVE_MAX_TOKENS: Final = 300
ANSWER_MAX_TOKENS: Final = 800
RULE_MAX_TOKENS: Final = 600
_NARRATIVE_CACHE_SIZE: Final = 4096


class BudgetSpent(Exception):
    """The account has used its daily token budget."""


def _with_note(message: dict[str, Any], note: str) -> dict[str, Any]:
    """The same user turn with a text block added (keeps user/assistant alternation)."""
    content = message["content"]
    if isinstance(content, str):
        return {**message, "content": f"{content}\n\n{note}"}
    return {**message, "content": [*content, {"type": "text", "text": note}]}


def _stop_problems(turn: ModelTurn) -> list[Violation]:
    if turn.stop_reason == "max_tokens":
        return [Violation("truncated")]
    if turn.stop_reason == "refusal":
        return [Violation("refusal")]
    return []


class AgentService:
    """Narratives, explanations, answers and rule drafts, guarded, with a template fallback."""

    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        sessions: async_sessionmaker[AsyncSession],
        provider: Provider | object | None = _AUTO,
        max_retries: int = 2,
        memory: ConversationMemory | None = None,
        disclaimers: Mapping[str, str] | None = None,
        narrative_daily_token_budget: int | None = None,
        max_tool_rounds: int = 6,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._sessions = sessions
        if provider is _AUTO:
            self.provider = Provider.from_settings(settings, max_retries=max_retries)
        else:
            assert provider is None or isinstance(provider, Provider)
            self.provider = provider
        self.memory = memory or ConversationMemory(clock)
        self.usage = UsageLedger(sessions, clock)
        kw: dict[str, Any] = {} if disclaimers is None else {"disclaimers": dict(disclaimers)}
        self.narrative_guard = Guard(max_chars=NARRATIVE_MAX, **kw)
        self.answer_guard = Guard(max_chars=ANSWER_MAX, **kw)
        self.user_budget = settings.agent_daily_token_budget
        # Narratives are written once per signal for everyone; they get their own, larger pot.
        self.system_budget = (
            narrative_daily_token_budget
            if narrative_daily_token_budget is not None
            else settings.agent_daily_token_budget * 10
        )
        self.max_tool_rounds = max_tool_rounds
        self.stats: Counter[str] = Counter()
        self._narratives: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._locks: dict[tuple[Any, ...], asyncio.Lock] = {}

    @classmethod
    def from_deps(cls, deps: Deps, **kwargs: Any) -> AgentService:
        """The service over a process's resources."""
        return cls(settings=deps.settings, clock=deps.clock, sessions=deps.sessions, **kwargs)

    async def aclose(self) -> None:
        """Close the model client."""
        if self.provider is not None:
            await self.provider.aclose()

    # -- the model, with budget and usage ------------------------------------------------------

    async def _call(self, account: int | None, **kwargs: Any) -> ModelTurn:
        if self.provider is None:
            raise ModelUnavailable("not_configured")
        budget = self.user_budget if account is not None else self.system_budget
        if await self.usage.spent(account) >= budget:
            self.stats["budget_spent"] += 1
            raise BudgetSpent
        self.stats["model_calls"] += 1
        turn = await self.provider.complete(user=user_ref(account), **kwargs)
        await self.usage.record(account, turn.usage)
        return turn

    def _reason(self, exc: BaseException) -> str:
        if isinstance(exc, BudgetSpent):
            return "budget"
        if isinstance(exc, ModelUnavailable) and exc.reason == "not_configured":
            return "not_configured"
        if isinstance(exc, ModelUnavailable):
            return "unavailable"
        return "guardrail"

    # -- narratives -----------------------------------------------------------------------------

    async def narrate(self, *, signal_id: int, ts: int, language: str = "en") -> str:
        """A guarded narrative (<= 400 chars) for a stored signal; cached per mint and version.

        Raises LookupError when no such signal is stored.
        """
        lang = templates.lang_of(language)
        async with self._sessions() as session:
            sig = await session.get(Signal, (signal_id, ts))
            if sig is None:
                raise LookupError(f"no signal {signal_id} at {ts}")
            key = (sig.mint, sig.version, signal_id, ts, lang)
            hit = self._narratives.get(key)
            if hit is not None:
                self._narratives.move_to_end(key)
                return hit
            token = await token_repo.get_token(session, mint=sig.mint)
            report = await signal_repo.get_risk_report(session, mint=sig.mint)
        data = briefs.narrative_input(sig, token, report)
        facts = Facts.from_data(data)
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                hit = self._narratives.get(key)
                if hit is not None:
                    return hit  # a concurrent call wrote it while we waited
                text = await self._stored_or_new(sig, data, facts, lang)
                self._narratives[key] = text
                while len(self._narratives) > _NARRATIVE_CACHE_SIZE:
                    self._narratives.popitem(last=False)
                return text
        finally:
            if not lock.locked():
                self._locks.pop(key, None)

    async def _stored_or_new(
        self, sig: Signal, data: dict[str, Any], facts: Facts, lang: str
    ) -> str:
        # The column holds the English narrative, written by an earlier call or process;
        # it still has to pass today's checks.
        if lang == "en" and sig.narrative:
            if not self.narrative_guard.validate(sig.narrative, facts, lang):
                return sig.narrative
        text = await self._narrative(data, facts, lang, sig.id)
        if lang == "en":
            async with self._sessions() as session:
                await signal_repo.set_narrative(session, signal_id=sig.id, ts=sig.ts, text=text)
                await session.commit()
        return text

    async def _narrative(self, data: dict[str, Any], facts: Facts, lang: str, sid: int) -> str:
        guard = self.narrative_guard
        budget = guard.body_budget(lang)
        if self.provider is not None:
            request = {
                "role": "user",
                "content": prompts.narrative_request(data, language=lang, max_chars=budget),
            }
            try:
                for attempt in range(2):
                    turn = await self._call(
                        SYSTEM,
                        system=prompts.NARRATIVE_SYSTEM,
                        messages=[request],
                        max_tokens=NARRATIVE_MAX_TOKENS,
                    )
                    body = guard.clean(turn.text)
                    problems = guard.check(body, facts, lang) + _stop_problems(turn)
                    if not problems:
                        self.stats["narrative_model"] += 1
                        logger.info("narrative for signal %s: model (attempt %d)", sid, attempt + 1)
                        return self._final(guard.finish(body, lang), facts, lang, guard)
                    self._rejected(problems, f"narrative for signal {sid}")
                    if attempt == 0:
                        # A fresh request with our reasons: the rejected text is not sent back.
                        request = _with_note(request, prompts.retry_note(codes(problems), budget))
            except (ModelUnavailable, BudgetSpent) as exc:
                logger.info("narrative for signal %s: template (%s)", sid, self._reason(exc))
        self.stats["narrative_template"] += 1
        body = templates.narrative(data, lang, budget=budget)
        return self._final(guard.finish(body, lang), facts, lang, guard)

    def _rejected(self, problems: Sequence[Violation], what: str) -> None:
        self.stats["guardrail_rejections"] += 1
        for c in codes(problems):
            self.stats[f"violation:{c}"] += 1
        logger.info("%s: model text rejected (%s)", what, ", ".join(codes(problems)))
        logger.debug("%s: details %s", what, [(p.code, p.detail) for p in problems])

    def _final(self, text: str, facts: Facts, lang: str, guard: Guard) -> str:
        """The last gate: a text that fails it is replaced by the bare disclaimer."""
        problems = guard.validate(text, facts, lang)
        if not problems:
            return text
        # Should never happen for our own templates (tests hold them to it); never ship it.
        logger.error("final gate rejected a text (%s)", ", ".join(codes(problems)))
        self.stats["final_gate_rejections"] += 1
        return guard.disclaimer(lang)

    # -- conversations --------------------------------------------------------------------------

    async def explain(self, *, user_id: int, mint: str, language: str = "en") -> AgentReply:
        """Why a token's latest signal fired (or why it did not)."""
        lang = templates.lang_of(language)
        guard = self.answer_guard
        mint = mint.strip()
        if not ADDRESS.match(mint):
            return AgentReply(guard.finish(templates.note("not_a_mint", lang), lang), True)
        now = briefs.utc_text(self._clock.now_ms())
        context = {"mint": mint, "now_utc": now}
        request = prompts.explain_request(context, language=lang, max_chars=guard.body_budget(lang))
        reply, why = await self._conversation(
            user_id=user_id, lang=lang, request=request, facts=Facts.from_data(context)
        )
        if reply is None:
            reply = await self._template_explain(mint, lang, why)
        self.memory.add(user_id, f"/explain {mint}", self._body(reply.text, lang))
        return reply

    async def ask(self, *, user_id: int, question: str, language: str = "en") -> AgentReply:
        """A free question in private chat, answered from tool results only."""
        lang = templates.lang_of(language)
        guard = self.answer_guard
        q = clean_question(question)
        if not q:
            return AgentReply(guard.finish(templates.note("help", lang), lang), True)
        addresses = [a for a in lexicon.find_addresses(q) if ADDRESS.match(a)][:3]
        context = {"now_utc": briefs.utc_text(self._clock.now_ms()), "addresses": addresses}
        request = prompts.question_request(
            q, context, language=lang, max_chars=guard.body_budget(lang)
        )
        reply, why = await self._conversation(
            user_id=user_id, lang=lang, request=request, facts=Facts.from_data(context)
        )
        if reply is None:
            reply = await self._template_answer(addresses, lang, why)
        self.memory.add(user_id, q, self._body(reply.text, lang))
        return reply

    def _body(self, text: str, lang: str) -> str:
        return text.removesuffix(self.answer_guard.disclaimer(lang)).rstrip()

    async def _conversation(
        self, *, user_id: int, lang: str, request: str, facts: Facts
    ) -> tuple[AgentReply | None, str]:
        """The tool-use loop; (None, why) when the template must answer instead."""
        if self.provider is None:
            return None, "not_configured"
        guard = self.answer_guard
        budget = guard.body_budget(lang)
        # Earlier answers passed the guardrails, so their figures may be repeated.
        history = self.memory.history(user_id)
        facts = facts.merge(*(Facts.from_data(e.answer) for e in history))
        messages: list[dict[str, Any]] = [
            *self.memory.messages(user_id),
            {"role": "user", "content": request},
        ]
        toolbox = ToolBox(self._sessions, self._clock, user_id=user_id)
        sources: list[str] = []
        regenerated = False
        try:
            for _ in range(self.max_tool_rounds):
                turn = await self._call(
                    user_id,
                    system=prompts.ASSISTANT_SYSTEM,
                    messages=messages,
                    tools=TOOLS,
                    max_tokens=ANSWER_MAX_TOKENS,
                )
                if turn.tool_calls and turn.stop_reason == "tool_use":
                    messages.append({"role": "assistant", "content": turn.content})
                    results = []
                    for call in turn.tool_calls:
                        result, is_error = await toolbox.run(call.name, call.input)
                        facts = facts.merge(Facts.from_data(result))
                        sources.append(describe_call(call.name, call.input))
                        results.append(
                            {
                                "type": "tool_result",
                                "tool_use_id": call.id,
                                "content": data_block(result),
                                "is_error": is_error,
                            }
                        )
                    messages.append({"role": "user", "content": results})
                    continue
                body = guard.clean(turn.text)
                problems = guard.check(body, facts, lang) + _stop_problems(turn)
                if not problems:
                    self.stats["answer_model"] += 1
                    text = self._final(guard.finish(body, lang), facts, lang, guard)
                    return AgentReply(text, False, tuple(dict.fromkeys(sources))), "model"
                self._rejected(problems, f"answer for user {user_id}")
                if regenerated:
                    return None, "guardrail"
                regenerated = True
                messages[-1] = _with_note(messages[-1], prompts.retry_note(codes(problems), budget))
            logger.info("answer for user %s: too many tool rounds", user_id)
            return None, "guardrail"
        except (ModelUnavailable, BudgetSpent) as exc:
            return None, self._reason(exc)

    def _note(self, why: str, lang: str) -> str:
        key = why if why in ("budget", "unavailable", "not_configured") else "guardrail"
        return templates.note(key, lang)

    async def _template_explain(self, mint: str, lang: str, why: str) -> AgentReply:
        self.stats["answer_template"] += 1
        guard = self.answer_guard
        note = self._note(why, lang)
        budget = guard.body_budget(lang) - len(note) - 1
        async with self._sessions() as session:
            sig = await signal_repo.latest_signal(session, mint=mint)
            token = await token_repo.get_token(session, mint=mint)
            report = await signal_repo.get_risk_report(session, mint=mint)
        sources: tuple[str, ...] = (describe_call("get_signal", {"mint": mint}),)
        if sig is None:
            tb = briefs.token_brief(mint, token)
            facts = Facts.from_data(tb)
            body = templates.no_signal(tb, lang) if token else templates.note("unknown_token", lang)
        else:
            data = briefs.narrative_input(sig, token, report)
            facts = Facts.from_data(data)
            body = templates.explanation(data, lang, budget=budget)
            sources += (describe_call("get_risk", {"mint": mint}),)
        text = self._final(guard.finish(f"{note} {body}", lang), facts, lang, guard)
        return AgentReply(text, True, sources)

    async def _template_answer(self, addresses: Sequence[str], lang: str, why: str) -> AgentReply:
        guard = self.answer_guard
        for address in addresses:
            async with self._sessions() as session:
                known_token = await token_repo.get_token(session, mint=address) is not None
            if known_token:
                return await self._template_explain(address, lang, why)
            toolbox = ToolBox(self._sessions, self._clock)
            stats, _ = await toolbox.run("get_wallet_stats", {"wallet": address, "days": 30})
            fills, _ = await toolbox.run("get_smart_activity", {"wallet": address, "hours": 24})
            if stats.get("found") or fills.get("fills"):
                self.stats["answer_template"] += 1
                note = self._note(why, lang)
                body = templates.wallet_summary(
                    stats.get("stats"),
                    fills.get("fills") or [],
                    lang,
                    guard.body_budget(lang) - len(note) - 1,
                )
                facts = Facts.from_data(stats, fills)
                text = self._final(guard.finish(f"{note} {body}", lang), facts, lang, guard)
                sources = (
                    describe_call("get_wallet_stats", {"wallet": address}),
                    describe_call("get_smart_activity", {"wallet": address}),
                )
                return AgentReply(text, True, sources)
        self.stats["answer_template"] += 1
        body = templates.note("no_data" if addresses else "help", lang)
        if why in ("budget", "unavailable", "not_configured"):
            body = f"{self._note(why, lang)} {body}"
        return AgentReply(guard.finish(body, lang), True)

    # -- rule drafting --------------------------------------------------------------------------

    async def draft_rule(self, *, user_id: int, text: str, language: str = "en") -> RuleDraft:
        """Turn a sentence into the engine's rule model; never enables anything by itself."""
        lang = templates.lang_of(language)
        sentence = clean_question(text, 500)
        if self.provider is not None:
            request: dict[str, Any] = {"role": "user", "content": prompts.rule_request(sentence)}
            try:
                for attempt in range(2):
                    turn = await self._call(
                        user_id,
                        system=prompts.RULE_SYSTEM,
                        messages=[request],
                        tools=[drafting.draft_tool()],
                        tool_choice={"type": "tool", "name": "draft_rule"},
                        max_tokens=RULE_MAX_TOKENS,
                    )
                    call = next((c for c in turn.tool_calls if c.name == "draft_rule"), None)
                    if call is not None:
                        proposal = drafting.proposal_from_tool(call.input)
                        draft = drafting.build_draft(proposal, text=sentence, language=lang)
                        if not draft.problems:
                            self.stats["rule_model"] += 1
                            return draft
                        problems = list(draft.problems)
                    else:
                        problems = ["call the draft_rule tool"]
                    logger.info("rule draft for user %s: model draft rejected", user_id)
                    if attempt == 0:
                        note = "Your draft was invalid: " + "; ".join(problems)[:600]
                        request = _with_note(request, note)
            except (ModelUnavailable, BudgetSpent) as exc:
                logger.info("rule draft for user %s: grammar (%s)", user_id, self._reason(exc))
        self.stats["rule_grammar"] += 1
        proposal = drafting.parse_sentence(sentence)
        return drafting.build_draft(proposal, text=sentence, language=lang)
