"""gettext catalogues (``locales/<lang>/LC_MESSAGES/messages.po``), compiled in memory by Babel.

Source strings are English msgids; :func:`N_` marks a string for extraction without translating
it (command summaries in the table). The ``.po`` files are read at first use, so a catalogue
edit needs no build step and no compiled file can go stale.
"""

from __future__ import annotations

import functools
import gettext
import io
import logging
from pathlib import Path
from typing import Any, Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from engine.services.accounts import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES

logger = logging.getLogger(__name__)

LOCALES_DIR: Final = Path(__file__).resolve().parents[1] / "locales"
DOMAIN: Final = "messages"


def N_(message: str) -> str:
    """Mark a string for translation without translating it now."""
    return message


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of a supported language (English falls back to the msgids)."""
    if lang not in SUPPORTED_LANGUAGES:
        lang = DEFAULT_LANGUAGE
    path = LOCALES_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.is_file():
        if lang != DEFAULT_LANGUAGE:
            logger.error("catalogue %s is missing; answering in English", path)
        return gettext.NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    # Fuzzy entries are guesses a translator has not confirmed: English is better than wrong.
    write_mo(buf, catalog, use_fuzzy=False)
    buf.seek(0)
    return Translations(fp=buf, domain=DOMAIN)


def gettext_for(lang: str, message: str, **params: Any) -> str:
    """Translate ``message`` into ``lang`` and fill its ``%(name)s`` placeholders."""
    text = translations(lang).gettext(message)
    return text % params if params else text


def ngettext_for(lang: str, singular: str, plural: str, n: int, **params: Any) -> str:
    """The plural form for ``n`` in ``lang``, with ``%(num)d`` and the placeholders filled."""
    text = translations(lang).ngettext(singular, plural, n)
    return text % {"num": n, **params}
