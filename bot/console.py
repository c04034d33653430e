"""The console chat: the command core in a terminal, for trying the product without any token.

Lines starting with ``/`` are commands; the reply is printed as plain text with its buttons
listed as numbers, and typing ``#<n>`` presses one. ``solai demo`` runs it over the demo's data.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Awaitable, Callable
from typing import TextIO

from bot.context import Caller, Invocation, Place, Press
from bot.core import CommandCore
from bot.reply import Button, Reply
from bot.text import to_plain
from engine.services.trade import mini_app_url

logger = logging.getLogger(__name__)

ReadLine = Callable[[], Awaitable[str | None]]


def render_plain(reply: Reply, public_url: str) -> tuple[str, list[Button]]:
    """The reply as terminal text, and its buttons in display order."""
    lines: list[str] = []
    buttons: list[Button] = []
    for part in (reply, *reply.extra):
        if part.title:
            lines.append(f"== {part.title} ==")
        if part.html:
            lines.append(to_plain(part.html))
        for row in part.buttons:
            labels = []
            for b in row:
                buttons.append(b)
                if b.kind == "trade" and b.intent is not None:
                    labels.append(f"[{b.label}: {mini_app_url(public_url, b.intent)}]")
                elif b.kind == "url":
                    labels.append(f"[{b.label}: {b.data}]")
                else:
                    labels.append(f"[#{len(buttons)} {b.label}]")
            lines.append("  ".join(labels))
    if reply.notice:
        lines.append(f"({reply.notice})")
    return "\n".join(lines), buttons


class ConsoleChat:
    """One person chatting with the core in a terminal."""

    def __init__(
        self,
        core: CommandCore,
        *,
        user: str = "console",
        language: str = "en",
        out: TextIO = sys.stdout,
    ) -> None:
        self.core = core
        self.caller = Caller("console", user, user, language)
        self.place = Place(f"console:{user}", "private", user)
        self.out = out
        self.buttons: list[Button] = []

    async def say(self, line: str) -> str:
        """Handle one typed line; returns what was printed."""
        text = line.strip()
        if not text:
            return ""
        if text.startswith("#") and text[1:].isdigit():
            index = int(text[1:]) - 1
            if not 0 <= index < len(self.buttons) or self.buttons[index].kind != "callback":
                return self._print("(no such button)")
            reply = await self.core.press(Press(self.caller, self.place, self.buttons[index].data))
        else:
            name, _, rest = text.lstrip("/").partition(" ")
            reply = await self.core.run(Invocation(self.caller, self.place, name, rest))
        printed, buttons = render_plain(reply, self.core.deps.settings.public_url)
        if buttons:
            self.buttons = buttons
        return self._print(printed)

    def _print(self, text: str) -> str:
        if text:
            print(text, file=self.out, flush=True)
        return text

    async def run(self, read_line: ReadLine | None = None) -> None:
        """Read lines until end of input."""
        read = read_line or _stdin_line
        self._print("SolAI console chat: type /help (Ctrl-D to leave).")
        while True:
            line = await read()
            if line is None:
                return
            await self.say(line)


_stdin_queue: asyncio.Queue[str | None] | None = None


async def _stdin_line() -> str | None:
    # A daemon thread, not asyncio.to_thread: at shutdown asyncio.run waits for its executor's
    # threads, and one blocked in readline() would keep the process alive until Enter is pressed.
    global _stdin_queue
    if _stdin_queue is None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[str | None] = asyncio.Queue()
        _stdin_queue = queue

        def pump() -> None:
            while True:
                line = sys.stdin.readline()
                loop.call_soon_threadsafe(queue.put_nowait, line or None)
                if not line:
                    return

        threading.Thread(target=pump, name="console-stdin", daemon=True).start()
    return await _stdin_queue.get()
