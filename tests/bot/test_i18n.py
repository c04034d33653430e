"""Catalogues: every message of the bot is in messages.pot and translated in French."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from bot.errors import SERVICE_MESSAGES
from bot.i18n import LOCALES_DIR, gettext_for, ngettext_for
from engine.services.accounts import SUPPORTED_LANGUAGES

REPO = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extracted() -> set[str | tuple[str, ...]]:
    """Messages in the source, as `pybabel extract -F locales/babel.cfg -k N_` finds them."""
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found: set[str | tuple[str, ...]] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(REPO),
        method_map=[("bot/**.py", "python"), ("bot/templates/**.html", "jinja2")],
        options_map={"bot/templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        keywords=keywords,
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


def catalog(lang: str | None) -> dict[str | tuple[str, ...], object]:
    path = (
        LOCALES_DIR / "messages.pot"
        if lang is None
        else (LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po")
    )
    with path.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    return {m.id if isinstance(m.id, str) else tuple(m.id): m for m in cat if m.id}


def test_the_template_catalogue_is_up_to_date() -> None:
    source = extracted()
    pot = set(catalog(None))
    assert source - pot == set(), "run the extraction in docs/bots.md (Translations)"
    assert pot - source == set(), "messages.pot lists messages the code no longer has"


@pytest.mark.parametrize("lang", [lang for lang in SUPPORTED_LANGUAGES if lang != "en"])
def test_every_message_is_translated(lang: str) -> None:
    translations = catalog(lang)
    missing, broken = [], []
    for msgid in extracted():
        entry = translations.get(msgid)
        strings = getattr(entry, "string", None)
        forms = list(strings) if isinstance(strings, tuple | list) else [strings]
        if entry is None or getattr(entry, "fuzzy", False) or not all(forms):
            missing.append(msgid)
            continue
        ids = [msgid] if isinstance(msgid, str) else list(msgid)
        want = set(PLACEHOLDER.findall(ids[0]))
        if any(set(PLACEHOLDER.findall(str(f))) != want for f in forms):
            broken.append(msgid)
    assert not missing, f"{lang}: missing translations: {missing}"
    assert not broken, f"{lang}: placeholders differ: {broken}"


def test_translations_format_and_pluralize() -> None:
    assert gettext_for("fr", "not a Solana address: %(value)s", value="x") == (
        "pas une adresse Solana : x"
    )
    one = ngettext_for("fr", "%(num)d call", "%(num)d calls", 1)
    zero = ngettext_for("fr", "%(num)d call", "%(num)d calls", 0)
    many = ngettext_for("fr", "%(num)d call", "%(num)d calls", 2)
    assert (zero, one, many) == ("0 annonce", "1 annonce", "2 annonces")  # French: n > 1


def test_every_service_error_code_has_a_message() -> None:
    codes = set()
    used_by_the_bot = ("accounts", "alerts", "kol", "rules", "signals", "trade", "watchlist")
    for path in (REPO / "engine" / "services" / f"{m}.py" for m in used_by_the_bot):
        codes |= set(
            re.findall(r"(?:InvalidInput|NotFound|Forbidden)\(\s*\"(\w+)\"", path.read_text())
        )
    internal = {"no_user", "no_chat", "no_call", "bad_startapp"}
    assert codes - internal - set(SERVICE_MESSAGES) == set()
