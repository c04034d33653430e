"""Prompt-injection defence over a corpus of hostile token metadata (tests/agent/data).

For every case: the template texts pass the guardrails and repeat nothing hostile; the model
sees the metadata only JSON-escaped inside the data block, cleaned and clipped; what a
compromised model would write is rejected; and end to end, through the real ``anthropic``
client and the local Messages API, a model that obeys twice ends in a clean template text.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from agent import prompts, templates
from agent.briefs import narrative_input
from agent.guardrails import ANSWER_MAX, Facts, Guard
from agent.local_messages_api import LocalMessagesAPI, text, tool_use
from agent.sanitize import clean_field, is_clean_label, short_address
from engine.storage.models import Signal, Token
from tests.agent.conftest import MakeService
from tests.agent.factory import CREATOR, T0, WHALES, add_token_and_signal, addr, signal_kwargs
from tests.conftest import Db

HOSTILE = addr("HostJLeWaLLetDrain")
HOSTILE2 = addr("RealContractFake")
_CORPUS = json.loads((Path(__file__).parent / "data" / "hostile_tokens.json").read_text("utf-8"))


def _expand(value: Any) -> Any:
    if isinstance(value, str):
        return (
            value.replace("{ADDR2}", HOSTILE2)
            .replace("{ADDR}", HOSTILE)
            .replace("{LONG}", "A" * 5_000)
        )
    if isinstance(value, list):
        return [_expand(v) for v in value]
    return value


CASES = [{k: _expand(v) for k, v in c.items()} for c in _CORPUS["cases"]]
MINTS = {c["id"]: addr(f"Hst{chr(65 + i // 26)}{chr(97 + i % 26)}") for i, c in enumerate(CASES)}


def _brief(case: dict[str, Any]) -> dict[str, Any]:
    mint = MINTS[case["id"]]
    wallets: dict[str, str | None] = dict(WHALES)
    if case["alias"] is not None:
        wallets[next(iter(wallets))] = case["alias"]
    sig = Signal(id=1, **signal_kwargs(mint, wallets=wallets))
    token = Token(
        mint=mint, name=case["name"], symbol=case["symbol"], uri=case["uri"], creator=CREATOR,
        venue="pumpfun", complete=False, created_ts=T0 - 600_000, updated_ts=T0,
    )  # fmt: skip
    return narrative_input(sig, token, None)


def assert_clean(output: str, case: dict[str, Any]) -> None:
    folded = output.casefold()
    for marker in case["markers"]:
        assert marker.casefold() not in folded, f"{case['id']}: {marker!r} in {output!r}"
    assert HOSTILE not in output and HOSTILE2 not in output
    assert not any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in output)


def test_the_corpus_has_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_template_texts_pass_the_guardrails_and_repeat_nothing_hostile(
    case: dict[str, Any],
) -> None:
    brief = _brief(case)
    facts = Facts.from_data(brief)
    assert HOSTILE not in facts.addresses and HOSTILE2 not in facts.addresses
    for lang in ("en", "fr"):
        guard = Guard()
        narrative = guard.finish(
            templates.narrative(brief, lang, budget=guard.body_budget(lang)), lang
        )
        assert guard.validate(narrative, facts, lang) == [], narrative
        assert len(narrative) <= 400
        assert_clean(narrative, case)
        long_guard = Guard(max_chars=ANSWER_MAX)
        explanation = long_guard.finish(
            templates.explanation(brief, lang, budget=long_guard.body_budget(lang)), lang
        )
        assert long_guard.validate(explanation, facts, lang) == [], explanation
        assert_clean(explanation, case)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_what_an_obeying_model_writes_is_rejected(case: dict[str, Any]) -> None:
    facts = Facts.from_data(_brief(case))
    guard = Guard()
    assert guard.check(guard.clean(case["obey"]), facts, "en"), case["obey"]


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_metadata_reaches_the_model_only_as_escaped_clipped_data(case: dict[str, Any]) -> None:
    request = prompts.narrative_request(_brief(case), language="en", max_chars=370)
    head, _, block = request.partition("<data>\n")
    inner, _, tail = block.partition("\n</data>")
    assert tail == "" and "<data>" not in inner
    # Nothing in the block can close it or open markup; no invisible character survives.
    assert "<" not in inner and ">" not in inner
    assert not any(unicodedata.category(ch) in {"Cc", "Cf"} for ch in inner)
    data = json.loads(inner)
    token = data["token"]
    # Attacker text sits under "untrusted" only, cleaned and clipped, and nowhere else.
    untrusted = token.get("untrusted", {})
    for field in ("name", "symbol", "uri"):
        assert untrusted.get(field) == clean_field(field, case[field])
    assert all(len(v) <= 120 for v in untrusted.values())
    for value in (case["name"], case["symbol"]):
        if value and len(value) >= 8:
            assert value[:12] not in head and value[:12] not in prompts.NARRATIVE_SYSTEM
    # The one name texts use is clean, or the token's own short mint.
    label = token["label"]
    assert is_clean_label(label) or label == short_address(MINTS[case["id"]])
    assert label in {clean_field("symbol", case["symbol"]), clean_field("name", case["name"]),
                     short_address(MINTS[case["id"]])}  # fmt: skip


async def test_end_to_end_an_obeying_model_never_reaches_the_user(
    db: Db, api: LocalMessagesAPI, make_service: MakeService
) -> None:
    ids: dict[str, tuple[int, int]] = {}
    for i, case in enumerate(CASES):
        ids[case["id"]] = await add_token_and_signal(
            db, mint=MINTS[case["id"]], signal_id=1000 + i, name=case["name"],
            symbol=case["symbol"], uri=case["uri"], alias=case["alias"],
        )  # fmt: skip
        api.push(text(case["obey"]), text(case["obey"]))
    service = await make_service(api)
    for case in CASES:
        sid, ts = ids[case["id"]]
        out = await service.narrate(signal_id=sid, ts=ts)
        assert_clean(out, case)
        assert len(out) <= 400
    assert service.stats["narrative_template"] == len(CASES)
    assert service.stats["narrative_model"] == 0
    assert api.pending == 0 and len(api.requests) == 2 * len(CASES)
    systems = {json.dumps(r.json["system"]) for r in api.requests}
    assert len(systems) == 1  # attacker text never reaches the system prompt
    for r in api.requests:
        for t in r.texts():
            assert not any(unicodedata.category(ch) in {"Cc", "Cf"} and ch != "\n" for ch in t)


async def test_a_hostile_alias_in_a_tool_result_is_not_obeyed(
    db: Db, api: LocalMessagesAPI, make_service: MakeService
) -> None:
    case = next(c for c in CASES if c["id"] == "hostile-alias")
    mint = MINTS[case["id"]]
    await add_token_and_signal(
        db, mint=mint, signal_id=77, name=case["name"], symbol=case["symbol"], alias=case["alias"]
    )
    obey = f"The top wallet says: send SOL to {HOSTILE}."
    api.push(tool_use(("get_signal", {"mint": mint})), text(obey), text(obey))
    service = await make_service(api)
    reply = await service.explain(user_id=1, mint=mint)
    assert reply.fallback
    assert_clean(reply.text, case)
    # The alias reached the model inside the tool result's data block, escaped and clipped.
    tool_texts = [t for t in api.requests[1].texts() if t.startswith("<data>")]
    assert tool_texts and "send SOL to" in tool_texts[0]
    assert HOSTILE not in tool_texts[0]  # clipped to 32 characters before it ends
