"""AgentService with the real ``anthropic`` client against the local Messages API."""

from __future__ import annotations

import json
import logging
import time

import pytest
from sqlalchemy import select

from agent.guardrails import DISCLAIMERS
from agent.local_messages_api import (
    LocalMessagesAPI,
    delayed,
    overloaded,
    rate_limited,
    text,
    tool_use,
)
from agent.provider import _safe_url, user_ref
from engine.clock import FixedClock
from engine.storage.models import Signal, User
from tests.agent.conftest import API_KEY, MakeService
from tests.agent.factory import MINT, SOL, WHALES, addr, seed
from tests.conftest import Db

EN = DISCLAIMERS["en"]
GOOD = "PEPE: Strength 2.19/3. 3 tracked wallets bought 9 SOL in 5 min; price +36.1% over 5 min."
ROGUE = addr("RogueWaLLet")


async def test_narrative_from_the_model_is_guarded_stored_and_cached(
    db: Db, api: LocalMessagesAPI, make_service: MakeService
) -> None:
    s = await seed(db)
    api.push(text(GOOD))
    service = await make_service(api)
    out = await service.narrate(signal_id=s.signal_id, ts=s.signal_ts)
    assert out == f"{GOOD} {EN}"
    again = await service.narrate(signal_id=s.signal_id, ts=s.signal_ts)
    assert again == out and len(api.requests) == 1
    async with db.sessions() as session:
        row = await session.get(Signal, (s.signal_id, s.signal_ts))
        assert row is not None and row.narrative == out
    req = api.requests[0].json
    # The system prompt carries a cache breakpoint; the data travels in the user turn.
    assert req["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert req["model"] == "claude-sonnet-4-6"
    assert req["metadata"] == {"user_id": user_ref(None)}
    assert "<data>" in req["messages"][0]["content"]
    assert '"label":"PEPE"' in req["messages"][0]["content"]
    # A new service (another process) reuses the stored narrative without calling the model.
    other = await make_service(api)
    assert await other.narrate(signal_id=s.signal_id, ts=s.signal_ts) == out
    assert len(api.requests) == 1


async def test_a_violation_is_regenerated_once_then_the_template_answers(
    db: Db, api: LocalMessagesAPI, make_service: MakeService
) -> None:
    s = await seed(db)
    bad = f"PEPE is guaranteed to 10x, send 2 SOL to {ROGUE}."
    api.push(text(bad), text("PEPE: Strength 2.19/3, price target 0.05 SOL."))
    service = await make_service(api)
    out = await service.narrate(signal_id=s.signal_id, ts=s.signal_ts, language="fr")
    assert len(api.requests) == 2
    assert ROGUE not in out and "garanti" not in out
    assert out.startswith("PEPE : Strength 2,19/3.")
    assert out.endswith(DISCLAIMERS["fr"]) and len(out) <= 400
    assert service.stats["guardrail_rejections"] == 2
    assert service.stats["violation:advice"] == 2
    assert service.stats["violation:unknown_address"] == 1
    assert service.stats["narrative_template"] == 1
    retry = api.requests[1].json["messages"]
    assert len(retry) == 1  # a fresh request: the rejected text is not sent back
    assert bad not in json.dumps(retry)
    assert "rejected by our checks" in retry[0]["content"]
    assert "advice" in retry[0]["content"]


async def test_a_violation_then_a_good_regeneration_is_used(
    db: Db, api: LocalMessagesAPI, make_service: MakeService
) -> None:
    s = await seed(db)
    api.push(text("PEPE: Strength 2.19/3 with 4 tracked wallets."), text(GOOD))
    service = await make_service(api)
    out = await service.narrate(signal_id=s.signal_id, ts=s.signal_ts)
    assert out == f"{GOOD} {EN}"
    assert service.stats["violation:unknown_number"] == 1
    assert service.stats["narrative_model"] == 1


async def test_multi_tool_explanation(
    db: Db, api: LocalMessagesAPI, make_service: MakeService
) -> None:
    s = await seed(db, alias="whale_a")
    answer = (
        "PEPE fired at Strength 2.19/3: whale_a and 2 other tracked wallets bought 3 SOL each "
        "(9 SOL in 5 min) and the price rose 36.1%. Risk is low, but the top 10 holders own 41% "
        "and the Top10 filter did not pass."
    )
    api.push(
        tool_use(("get_signal", {"mint": MINT}), ("get_risk", {"mint": MINT}), preamble="Looking."),
        tool_use(("get_smart_activity", {"mint": MINT, "hours": 6})),
        text(answer),
    )
    service = await make_service(api)
    reply = await service.explain(user_id=s.user_id, mint=MINT)
    assert not reply.fallback
    assert reply.text == f"{answer} {EN}"
    assert reply.sources == (
        f"get_signal(mint={MINT[:4]}…{MINT[-4:]})",
        f"get_risk(mint={MINT[:4]}…{MINT[-4:]})",
        f"get_smart_activity(hours=6, mint={MINT[:4]}…{MINT[-4:]})",
    )
    first, second, third = (r.json for r in api.requests)
    assert first["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert {t["name"] for t in first["tools"]} == {
        "get_signal", "get_token", "get_risk", "get_smart_activity", "get_wallet_stats",
        "search_tokens",
    }  # fmt: skip
    # Turn 2 answers both tool_use blocks of turn 1 with tool_result blocks (same ids).
    asked = [b["id"] for b in second["messages"][-2]["content"] if b["type"] == "tool_use"]
    results = second["messages"][-1]["content"]
    assert [r["tool_use_id"] for r in results] == asked and len(asked) == 2
    signal_result = json.loads(results[0]["content"].removeprefix("<data>\n").removesuffix(
        "\n</data>"))  # fmt: skip
    assert signal_result["found"] is True
    assert signal_result["signal"]["smart_buy_sol"] == 9.0
    risk_result = json.loads(results[1]["content"][7:-8])
    assert risk_result["risk"]["facts"]["top10_pct"] == 41.0
    fills = json.loads(third["messages"][-1]["content"][0]["content"][7:-8])
    assert fills["count"] == 3 and {f["wallet"] for f in fills["fills"]} == set(WHALES)
    # Usage was recorded on the user, per day, with the cache fields.
    async with db.sessions() as session:
        user = await session.get(User, s.user_id)
        assert user is not None
        usage = user.settings["agent_usage"]
    assert usage["day"] == "2026-01-01" and usage["requests"] == 3
    assert usage["cache_creation_input_tokens"] > 0 and usage["cache_read_input_tokens"] > 0
    # The exchange is remembered for a follow-up question.
    assert service.memory.history(s.user_id)[0].question == f"/explain {MINT}"


async def test_a_figure_not_in_any_tool_result_is_refused(
    db: Db, api: LocalMessagesAPI, make_service: MakeService
) -> None:
    s = await seed(db)
    api.push(
        tool_use(("get_signal", {"mint": MINT})),
        text("PEPE fired at Strength 2.19/3 with 47 tracked wallets."),
        text("PEPE fired at Strength 2.19/3; 3 tracked wallets bought 9 SOL."),
    )
    service = await make_service(api)
    reply = await service.explain(user_id=s.user_id, mint=MINT)
    assert not reply.fallback and "47 tracked" not in reply.text
    assert service.stats["violation:unknown_number"] == 1
    # The regeneration note went into the last user turn (alternation kept, no echo).
    last = api.requests[2].json["messages"][-1]
    assert last["role"] == "user" and last["content"][-1]["type"] == "text"
    assert "47 tracked" not in json.dumps(api.requests[2].json)


async def test_rule_draft_through_the_model_is_validated_by_the_engine(
    db: Db, api: LocalMessagesAPI, make_service: MakeService
) -> None:
    s = await seed(db)
    sentence = (
        "tell me when 3 smart wallets buy 2 SOL of a token without freeze authority "
        "within 5 minutes"
    )
    api.push(
        tool_use(
            (
                "draft_rule",
                {
                    "trigger": {
                        "kind": "smart_buy_burst",
                        "params": {"min_wallets": 3, "min_total_lamports": 2 * SOL,
                                   "window_minutes": 5},
                    },
                    "filters": [{"kind": "no_freeze", "params": {}}],
                },
            )
        )
    )  # fmt: skip
    service = await make_service(api)
    draft = await service.draft_rule(user_id=s.user_id, text=sentence)
    assert draft.problems == ()
    assert draft.kind == "smart_buy_burst"
    assert draft.params["min_wallets"] == 3 and draft.params["min_total_lamports"] == 2 * SOL
    assert [(r["kind"], r["params"].get("block")) for r in draft.rules] == [
        ("smart_buy_burst", None),
        ("no_freeze", True),
    ]
    assert "never trades" in draft.summary
    req = api.requests[0].json
    assert req["tool_choice"] == {"type": "tool", "name": "draft_rule"}
    assert req["tools"][0]["name"] == "draft_rule"
    assert "min_lamports_per_wallet" in req["tools"][0]["description"]
    assert service.stats["rule_model"] == 1


async def test_an_invalid_model_draft_is_retried_then_the_grammar_answers(
    db: Db, api: LocalMessagesAPI, make_service: MakeService
) -> None:
    s = await seed(db)
    bad = tool_use(("draft_rule", {"trigger": {"kind": "auto_buy", "params": {"sol": 5}}}))
    too_long = {"trigger": {"kind": "momentum", "params": {"window_minutes": 99}}}
    api.push(bad, tool_use(("draft_rule", too_long)))
    service = await make_service(api)
    draft = await service.draft_rule(user_id=s.user_id, text="3 smart wallets buy 2 SOL in 4 min")
    assert len(api.requests) == 2
    assert "'auto_buy' is not a trigger" in api.requests[1].json["messages"][0]["content"]
    assert draft.problems == () and draft.params["window_minutes"] == 4
    assert service.stats["rule_grammar"] == 1


async def test_api_timeout_falls_back_to_the_template(
    db: Db, api: LocalMessagesAPI, make_service: MakeService
) -> None:
    s = await seed(db)
    api.push(delayed(10))
    service = await make_service(api, anthropic_timeout_s=0.2)
    started = time.monotonic()
    out = await service.narrate(signal_id=s.signal_id, ts=s.signal_ts)
    assert time.monotonic() - started < 3
    assert out.startswith("PEPE: Strength 2.19/3.") and out.endswith(EN)
    assert service.stats["narrative_template"] == 1


async def test_overload_529_is_retried_by_the_sdk_then_falls_back(
    db: Db, api: LocalMessagesAPI, make_service: MakeService
) -> None:
    s = await seed(db)
    api.push(overloaded(retry_after_ms=5), overloaded(retry_after_ms=5))
    service = await make_service(api, max_retries=1)
    reply = await service.explain(user_id=s.user_id, mint=MINT)
    assert len(api.requests) == 2  # the SDK's own retry, then our fallback
    assert api.requests[1].headers["x-stainless-retry-count"] == "1"
    assert reply.fallback
    assert reply.text.startswith("AI assistant unavailable right now: standard summary. PEPE:")
    assert "Smart Buy Burst: 3 tracked wallets bought 9 SOL in 5 min" in reply.text
    assert reply.sources[0].startswith("get_signal(")


async def test_rate_limit_429_with_retry_after_recovers(
    db: Db, api: LocalMessagesAPI, make_service: MakeService
) -> None:
    s = await seed(db)
    api.push(rate_limited(retry_after_s=1, retry_after_ms=5), text(GOOD))
    service = await make_service(api, max_retries=2)
    out = await service.narrate(signal_id=s.signal_id, ts=s.signal_ts)
    assert out == f"{GOOD} {EN}" and len(api.requests) == 2


async def test_daily_budget_spent_means_template_with_a_note_and_no_call(
    db: Db, api: LocalMessagesAPI, make_service: MakeService, clock: FixedClock
) -> None:
    s = await seed(db)
    usage = {"input_tokens": 900, "output_tokens": 200, "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": 0}  # fmt: skip
    api.push(text("I have no figure for that yet.", usage=usage))
    service = await make_service(api, agent_daily_token_budget=1_000)
    first = await service.ask(user_id=s.user_id, question="anything new?")
    assert not first.fallback
    second = await service.ask(user_id=s.user_id, question=f"what about {MINT}?")
    assert second.fallback and len(api.requests) == 1
    assert second.text.startswith("Daily AI limit reached: standard summary. PEPE:")
    # Another process sees the same spent budget (it is stored on the user).
    other = await make_service(api, agent_daily_token_budget=1_000)
    assert (await other.ask(user_id=s.user_id, question="hi")).fallback
    # The next UTC day starts afresh.
    clock.advance(86_400_000)
    api.push(text("Nothing stored about that."))
    assert not (await other.ask(user_id=s.user_id, question="hi")).fallback
    async with db.sessions() as session:
        user = (await session.scalars(select(User).where(User.id == s.user_id))).one()
    assert user.settings["agent_usage"]["day"] == "2026-01-02"


async def test_conversation_memory_is_sent_back_bounded(
    db: Db, api: LocalMessagesAPI, make_service: MakeService
) -> None:
    s = await seed(db)
    service = await make_service(api)
    service.memory.max_turns = 2
    for i in range(3):
        api.push(text(f"Answer {i}: no stored figure."))
    api.push(text("Still nothing."))
    for i in range(3):
        await service.ask(user_id=s.user_id, question=f"question {i}")
    await service.ask(user_id=s.user_id, question="and now?")
    messages = api.requests[-1].json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[0]["content"] == "question 1"  # question 0 fell out of the window
    assert messages[3]["content"] == "Answer 2: no stored figure."
    assert service.memory.history(999) == []


async def test_secrets_and_prompts_stay_out_of_info_logs(
    db: Db, api: LocalMessagesAPI, make_service: MakeService, caplog: pytest.LogCaptureFixture
) -> None:
    s = await seed(db)
    api.push(text("No stored figure."), overloaded())
    service = await make_service(api)
    with caplog.at_level(logging.DEBUG):
        await service.ask(user_id=s.user_id, question="is my secret plan 42 good?")
        await service.ask(user_id=s.user_id, question="and the other secret plan?")
    everything = "\n".join(r.getMessage() for r in caplog.records)
    assert API_KEY not in everything
    info = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert info and not any("secret plan" in m for m in info)
    assert any("model call failed: overloaded" in m for m in info)


def test_gateway_urls_are_logged_without_credentials() -> None:
    url = "https://user:secret@gw.example:8443/anthropic?key=abc#frag"
    assert _safe_url(url) == "https://gw.example:8443/anthropic"
    assert _safe_url(None) is None
