"""The platform-neutral reply: a title, Telegram-HTML body, buttons; each adapter renders it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from engine.services.trade import TradeIntent

ButtonKind = Literal["callback", "url", "trade"]
Tone = Literal["info", "error", "alert", "warning"]


@dataclass(frozen=True, slots=True)
class Button:
    """A button: a signed callback, a link, or a trade opened in the Mini App.

    ``label`` is plain text (already translated); each platform escapes or clips it itself.
    """

    label: str
    kind: ButtonKind
    data: str = ""
    """Signed callback data (``callback``) or the URL (``url``)."""
    intent: TradeIntent | None = None
    """The prefilled order of a ``trade`` button."""


@dataclass(frozen=True, slots=True)
class Reply:
    """What a command, a button or an alert shows."""

    html: str
    """Body in the neutral markup (Telegram HTML subset), every value already escaped."""
    title: str | None = None
    """Plain-text heading (Discord embed title; bold first line elsewhere)."""
    buttons: tuple[tuple[Button, ...], ...] = ()
    tone: Tone = "info"
    notice: str | None = None
    """A short toast for the button press that produced this reply (plain text)."""
    edit: bool = False
    """Replace the message whose button was pressed instead of sending a new one."""
    extra: tuple[Reply, ...] = field(default=())
    """Further messages sent after this one (a long list split by meaning, not by size)."""


def rows(*buttons: Button | None, per_row: int = 3) -> tuple[tuple[Button, ...], ...]:
    """Lay buttons out in rows of ``per_row``, skipping the ones that are None."""
    present = [b for b in buttons if b is not None]
    return tuple(tuple(present[i : i + per_row]) for i in range(0, len(present), per_row))
