"""Without an API key (the demo): templates and the grammar keep every capability working."""

from __future__ import annotations

from typing import Any

import pytest

from agent import templates
from agent.briefs import narrative_input
from agent.guardrails import ANSWER_MAX, DISCLAIMERS, Facts, Guard
from agent.interface import Agent
from agent.memory import ConversationMemory
from agent.usage import UsageLedger
from engine.clock import FixedClock
from engine.storage.models import Signal, Token
from tests.agent.conftest import MakeService
from tests.agent.factory import CREATOR, MINT, SOL, T0, WHALES, addr, seed, signal_kwargs
from tests.conftest import Db

SCENARIOS: dict[str, dict[str, Any]] = {
    "burst+momentum": {},
    "push-time": {"triggers": ("push_time",)},
    "risky": {"badges": ["freeze_authority", "mint_authority", "tax_7.5pct", "dev_selling"],
              "level": "critical"},
    "unknown-risk": {"known": False, "level": "unknown", "badges": ["unverified"]},
    "no-pool": {"pool": False, "triggers": ("momentum",)},
    "many-wallets": {"wallets": {addr(f"Wa{chr(97 + i)}"): f"wallet_{chr(97 + i)}_with_long_alias"
                                 for i in range(12)},
                     "triggers": ("push_time", "smart_buy_burst", "momentum"),
                     "badges": ["mint_authority", "top_holder", "dev_selling"], "level": "high"},
}  # fmt: skip


def _brief(**kw: Any) -> dict[str, Any]:
    sig = Signal(id=5, **signal_kwargs(**kw))
    token = Token(mint=MINT, name="Pepe Classic", symbol="PEPE", uri=None, creator=CREATOR,
                  venue="pumpfun", complete=False, created_ts=T0, updated_ts=T0)  # fmt: skip
    return narrative_input(sig, token, None)


@pytest.mark.parametrize("language", ["en", "fr"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_template_narratives_pass_the_same_validator(name: str, language: str) -> None:
    brief = _brief(**SCENARIOS[name])
    facts = Facts.from_data(brief)
    guard = Guard()
    body = templates.narrative(brief, language, budget=guard.body_budget(language))
    text = guard.finish(body, language)
    assert guard.validate(text, facts, language) == [], text
    assert len(text) <= 400
    # Deterministic: the same brief always gives the same text.
    assert templates.narrative(brief, language, budget=guard.body_budget(language)) == body
    answer_guard = Guard(max_chars=ANSWER_MAX)
    explanation = answer_guard.finish(
        templates.explanation(brief, language, budget=answer_guard.body_budget(language)),
        language,
    )
    assert answer_guard.validate(explanation, facts, language) == [], explanation


def test_template_wording_in_both_languages() -> None:
    brief = _brief(**SCENARIOS["risky"])
    guard = Guard()
    en = templates.narrative(brief, "en", budget=guard.body_budget("en"))
    fr = templates.narrative(brief, "fr", budget=guard.body_budget("fr"))
    assert en.startswith("PEPE: Strength 2.19/3. Smart Buy Burst: 3 tracked wallets bought 9 SOL")
    assert "Risk critical (freeze authority still active, mint authority still active, " in en
    assert "transfer tax 7.5%" in en
    assert fr.startswith("PEPE : Strength 2,19/3. Smart Buy Burst : 3 wallets suivis ont acheté")
    assert "Risque critique (autorité de gel encore active" in fr
    assert "taxe de transfert 7,5 %" in fr


def test_a_long_text_drops_the_wallet_names_before_anything_else() -> None:
    brief = _brief(**SCENARIOS["many-wallets"])
    guard = Guard()
    text = templates.narrative(brief, "en", budget=guard.body_budget("en"))
    assert "12 tracked wallets bought 36 SOL in 5 min." in text
    assert "wallet_a_with_long_alias" not in text and "Risk high" in text


async def test_no_api_key_every_capability_still_answers(db: Db, make_service: MakeService) -> None:
    s = await seed(db)
    service = await make_service()
    assert service.provider is None
    agent: Agent = service  # the protocol the bots and the API use
    narrative = await agent.narrate(signal_id=s.signal_id, ts=s.signal_ts, language="fr")
    assert narrative.startswith("PEPE : Strength 2,19/3.")
    assert narrative.endswith(DISCLAIMERS["fr"])
    reply = await agent.explain(user_id=s.user_id, mint=MINT)
    assert reply.fallback
    assert reply.text.startswith("AI assistant not configured: standard summary. PEPE: signal at")
    assert "Thresholds: tracked wallets buying >= 3; SOL bought by tracked wallets >= 5 SOL" in (
        reply.text
    )
    wallet = next(iter(WHALES))
    about_wallet = await agent.ask(user_id=s.user_id, question=f"what did {wallet} buy today?")
    assert about_wallet.fallback
    assert "whale_a: 1 trade, realized PnL 0 SOL. 2025" in about_wallet.text
    assert "2025-12-31 23:58 UTC: bought 3 SOL of PEPE" in about_wallet.text
    help_reply = await agent.ask(user_id=s.user_id, question="how does this work?", language="fr")
    assert "/explain" in help_reply.text and help_reply.text.endswith(DISCLAIMERS["fr"])
    draft = await agent.draft_rule(user_id=s.user_id, text="3 smart wallets buy 2 SOL in 5 min")
    assert draft.params["min_total_lamports"] == 2 * SOL and draft.problems == ()


async def test_explain_handles_bad_and_unknown_mints(db: Db, make_service: MakeService) -> None:
    s = await seed(db, with_signal=False)
    service = await make_service()
    bad = await service.explain(user_id=s.user_id, mint="not-a-mint")
    assert bad.text.startswith("That does not look like a Solana mint address.")
    none_yet = await service.explain(user_id=s.user_id, mint=MINT)
    assert "No signal has fired for PEPE yet." in none_yet.text
    unknown = await service.explain(user_id=s.user_id, mint=addr("Nobody"), language="fr")
    assert "Je n'ai aucune donnée enregistrée sur ce token." in unknown.text
    with pytest.raises(LookupError):
        await service.narrate(signal_id=1, ts=1)


async def test_the_final_gate_never_ships_a_failing_text(db: Db, make_service: MakeService) -> None:
    service = await make_service()
    facts = Facts.from_data({"strength": 1.5})
    guard = service.narrative_guard
    assert service._final(guard.finish("Strength 1.5/3.", "en"), facts, "en", guard).startswith(
        "Strength 1.5/3."
    )
    assert service._final("Buy now! 100x", facts, "en", guard) == DISCLAIMERS["en"]
    assert service.stats["final_gate_rejections"] == 1


def test_memory_is_bounded_in_turns_characters_and_time() -> None:
    clock = FixedClock(T0)
    memory = ConversationMemory(clock, max_turns=3, max_chars=100, idle_ms=60_000)
    for i in range(5):
        memory.add(1, f"q{i}", f"a{i}")
    assert [e.question for e in memory.history(1)] == ["q2", "q3", "q4"]
    memory.add(1, "x" * 45, "y" * 45)
    assert sum(len(e.question) + len(e.answer) for e in memory.history(1)) <= 100
    memory.add(2, "z" * 500, "w" * 500)  # one huge exchange is clipped, not lost
    assert len(memory.history(2)[0].question) == 50
    clock.advance(60_001)
    assert memory.history(1) == [] and memory.messages(2) == []


async def test_usage_of_an_unknown_user_or_the_system_stays_in_memory(
    db: Db, clock: FixedClock
) -> None:
    from agent.provider import TokenUsage

    ledger = UsageLedger(db.sessions, clock)
    await ledger.record(None, TokenUsage(100, 50, 0, 1000, 1))
    await ledger.record(9999, TokenUsage(10, 5, 0, 0, 1))
    assert await ledger.spent(None) == 100 + 50 + 100  # cache reads count a tenth
    assert await ledger.spent(9999) == 15
