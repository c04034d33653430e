"""The Mini App's gettext domain ``miniapp`` (``locales/<lang>/LC_MESSAGES/miniapp.po``).

Catalogues are read with Babel at first use and compiled in memory, so editing a ``.po`` needs
no build step and no compiled file can go stale. The page's language comes from an explicit
``?lang=``, else the browser's ``Accept-Language`` (Telegram's webview sends the app's
language), else English; the page's script reloads with ``?lang=`` when Telegram says the user
speaks another supported language.
"""

from __future__ import annotations

import functools
import gettext
import io
import logging
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

logger = logging.getLogger(__name__)

LOCALES_DIR: Final = Path(__file__).resolve().parents[2] / "locales"
DOMAIN: Final = "miniapp"
LANGUAGES: Final = ("en", "fr")
DEFAULT_LANGUAGE: Final = "en"


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now."""
    return message


def catalogue_path(lang: str) -> Path:
    """Where the ``.po`` of a language lives."""
    return LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The compiled catalogue of a supported language (English falls back to the msgids)."""
    if lang not in LANGUAGES:
        lang = DEFAULT_LANGUAGE
    path = catalogue_path(lang)
    if not path.is_file():
        if lang != DEFAULT_LANGUAGE:
            logger.error("catalogue %s is missing; the Mini App answers in English", path)
        return gettext.NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang, domain=DOMAIN)
    buf = io.BytesIO()
    # Fuzzy entries are unconfirmed guesses: English is better than a wrong button label.
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf, domain=DOMAIN)


def normalize(code: str | None) -> str | None:
    """A supported language from a code such as ``fr-FR`` or ``fr_CA``; None when unsupported."""
    if not code:
        return None
    base = code.strip().replace("_", "-").split("-", 1)[0].lower()
    return base if base in LANGUAGES else None


def pick_language(explicit: str | None, accept_language: str | None) -> str:
    """The page language: ``?lang=`` first, then the best ``Accept-Language`` match, then EN."""
    chosen = normalize(explicit)
    if chosen:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        code, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = normalize(code)
        if lang and q > 0:
            ranked.append((-q, i, lang))
    return min(ranked)[2] if ranked else DEFAULT_LANGUAGE
