"""Walk a transaction's log lines and attribute each payload line to the program that wrote it.

The runtime writes ``Program <id> invoke [<depth>]`` when an instruction starts, then
``Program <id> success`` or ``Program <id> failed: <reason>`` when it ends; whatever the program
logs in between (``Program data: <base64>`` from ``sol_log_data``/Anchor ``emit!``, ``Program
log: <text>`` from ``msg!``) belongs to the innermost running frame. Routers write ``Program
data:`` lines of their own (often with the same Anchor discriminator as the venue they route
to), so a payload must never be read without knowing who wrote it.

Programs can only write lines that start with ``Program log: `` or ``Program data: ``, so a
structural line is recognised by its shape (a base58 id, no colon, then the keyword): a program
that logs "success" or "Program X invoke [1]" cannot move the stack.

This is the decoder's hot loop (100k+ notifications/s): one pass, cheap character tests first,
no regular expressions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

logger = logging.getLogger(__name__)

DATA: Final = 0
"""Item kind: a ``Program data:`` line (payload is the base64 text)."""
LOG: Final = 1
"""Item kind: a ``Program log:`` line (payload is the text after the prefix)."""

LogItem = tuple[int, int, str, int, int, str]
"""(line number, kind, program id, outer instruction, CPI position or -1, payload text)."""


@dataclass(slots=True)
class LogWalk:
    """What one pass over the log lines found."""

    items: list[LogItem] = field(default_factory=list)
    failed: bool = False
    """A frame ended with ``failed``: the transaction was reverted."""
    truncated: bool = False
    """The runtime cut the logs (``Log truncated``): later payloads are missing."""
    invocations: int = 0


def walk_logs(
    logs: Sequence[str],
    *,
    want_logs: bool = False,
    outer_programs: Sequence[str] | None = None,
) -> LogWalk:
    """Attribute ``Program data:`` (and, with ``want_logs``, ``Program log:``) lines to programs.

    ``outer_programs`` (the top-level instructions' program ids) keeps the outer-instruction
    count aligned when a top-level instruction wrote no ``invoke`` line (precompiles).
    Non-string lines raise ``TypeError``/``AttributeError``; callers treat that as garbage.
    """
    walk = LogWalk()
    items = walk.items
    stack: list[tuple[str, int, int]] = []
    outer = -1
    inner = -1
    n_outer = len(outer_programs) if outer_programs is not None else 0
    for n, line in enumerate(logs):
        last = line[-1:]
        if last == "]":
            sp = line.find(" ", 8)
            if (
                sp > 8
                and line.startswith(" invoke [", sp)
                and line.startswith("Program ")
                and line[sp - 1] != ":"
            ):
                program = line[8:sp]
                depth_text = line[sp + 9 : -1]
                walk.invocations += 1
                if depth_text == "1":
                    outer += 1
                    if outer_programs is not None and (
                        outer >= n_outer or outer_programs[outer] != program
                    ):
                        outer = _realign(outer_programs, outer, program)
                    inner = -1
                    stack = [(program, outer, -1)]
                else:
                    inner += 1
                    depth = (
                        int(depth_text)
                        if len(depth_text) < 4 and depth_text.isascii() and depth_text.isdigit()
                        else len(stack) + 1
                    )
                    if depth - 1 < len(stack):
                        # Out of step (garbage or a missed end line): trust the depth.
                        del stack[max(depth - 1, 0) :]
                    stack.append((program, outer, inner))
                continue
        elif last == "s" and line.endswith(" success"):
            sp = line.find(" ", 8)
            if sp == len(line) - 8 and line[sp - 1] != ":" and line.startswith("Program "):
                if stack:
                    stack.pop()
                continue
        if line.startswith("Program data: "):
            if stack:
                top = stack[-1]
                items.append((n, DATA, top[0], top[1], top[2], line[14:]))
        elif line.startswith("Program log: "):
            if want_logs and stack:
                top = stack[-1]
                items.append((n, LOG, top[0], top[1], top[2], line[13:]))
        elif line.startswith("Program "):
            sp = line.find(" ", 8)
            if sp > 8 and line.startswith(" failed", sp) and line[sp - 1] != ":":
                walk.failed = True
                if stack:
                    stack.pop()
        elif line == "Log truncated":
            walk.truncated = True
    return walk


def _realign(outer_programs: Sequence[str], expected: int, program: str) -> int:
    """The next top-level instruction at or after ``expected`` run by ``program``."""
    for i in range(max(expected, 0), len(outer_programs)):
        if outer_programs[i] == program:
            return i
    return expected


# -- fast path: data lines only, for logsSubscribe notifications ---------------------------------
#
# Per-line Python loops cost ~0.5 us a line; a pump.fun notification has ~20 lines. Joining the
# lines and letting str.find/rfind/count and two anchored regexes do the scanning in C brings
# attribution to ~2 us. It relies on the depth in ``invoke [d]``: after the last invoke before a
# data line (depth d) and k structural ``success`` lines, the writer is the most recent
# invoke at depth d - k. ``walk_logs`` is the reference; tests check both agree.

_B58_ID: Final = "[1-9A-HJ-NP-Za-km-z]{32,44}"
_SUCCESS_LINE: Final = re.compile(rf"^Program {_B58_ID} success$", re.MULTILINE)
_FAILED_LINE: Final = re.compile(rf"^Program {_B58_ID} failed", re.MULTILINE)
_DATA_PREFIX: Final = "Program data: "


class FailedTransaction(Exception):
    """Raised by :func:`data_lines` when a frame failed: the transaction was reverted."""


DataLine = tuple[int, str, str]
"""(line number, program id, base64 payload)."""


def data_lines(
    logs: Sequence[str], *, check_failed: bool = True, newline_free: bool = False
) -> list[DataLine] | None:
    """``Program data:`` lines with the program that wrote each, computed in C where possible.

    Raises :class:`FailedTransaction` if a frame failed (``check_failed=False`` skips the check
    when the caller knows the transaction succeeded: a failed CPI always fails the whole
    transaction). Returns ``None`` when a log entry contains a newline (a program can log one to
    forge a line start): then use :func:`walk_logs`. ``newline_free=True`` skips that check
    when the caller knows no entry holds a newline. Non-string entries raise ``TypeError``.
    """
    text = "\n".join(logs)
    p = text.find(_DATA_PREFIX)
    if p < 0:
        return []
    if not newline_free and text.count("\n") != len(logs) - 1:
        return None
    if check_failed and " failed" in text and _FAILED_LINE.search(text) is not None:
        raise FailedTransaction
    out: list[DataLine] = []
    last_line = len(logs) - 1  # no entry holds a newline here, so lines == entries
    while p >= 0:
        end = text.find("\n", p)
        if end < 0:
            end = len(text)
        if p == 0 or text[p - 1] == "\n":
            program = _ending_frame(text, end) or _writer(text, p)
            if program is not None:
                # Count newlines after p, not before: data lines sit near the end of the logs.
                out.append((last_line - text.count("\n", p), program, text[p + 14 : end]))
        p = text.find(_DATA_PREFIX, end)
    return out


_DEPTH: Final = {str(d): d for d in range(1, 10)}  # the runtime caps CPI depth well below 10
_AT_DEPTH: Final = {d: f" invoke [{d}]\n" for d in range(1, 10)}


def _ending_frame(text: str, end: int) -> str | None:
    """The writer, read from the frame's ``consumed`` line that follows (the common case).

    Only the innermost frame can write, and the runtime ends a BPF frame with ``Program <id>
    consumed N of M compute units``: if the first line after the payload (skipping more
    ``data``/``log`` lines of the same frame) is such a line, ``<id>`` wrote the payload. If it
    is an invoke instead (the writer called another program), ``None``: use :func:`_writer`.
    """
    n = len(text)
    while end < n:
        start = end + 1
        if not text.startswith("Program ", start):
            return None
        sp = text.find(" ", start + 8)
        if sp < 0:
            return None
        if text[sp - 1] == ":":
            if text.startswith("Program data: ", start) or text.startswith("Program log: ", start):
                end = text.find("\n", sp)
                if end < 0:
                    return None
                continue
            return None
        if text.startswith(" consumed ", sp):
            return text[start + 8 : sp]
        return None
    return None


def _writer(text: str, p: int) -> str | None:
    """The program whose frame was running when the line at ``p`` was written.

    An invoke line is trusted only if it is exactly ``Program <id> invoke [<d>]`` with an id
    free of spaces and colons: programs can only write lines starting ``Program log: `` or
    ``Program data: ``, so such a line was written by the runtime.
    """
    # 1. The last invoke line before p.
    i = text.rfind(" invoke [", 0, p)
    while True:
        if i < 0:
            return None
        start = text.rfind("\n", 0, i) + 1
        depth = _DEPTH.get(text[i + 9 : i + 10])
        if (
            depth is not None
            and text.startswith("]\n", i + 10)
            and text.startswith("Program ", start)
            and text[i - 1] != ":"
            and text.find(" ", start + 8, i) < 0
        ):
            break
        i = text.rfind(" invoke [", 0, start)
    # 2. Each frame closed since then pops the stack: the writer is (depth - closed) deep.
    end = i + 11
    closed = text.count(" success\n", end, p)
    if closed and text.find("Program log: ", end, p) >= 0:
        # A program may log text ending in " success": count only the structural lines.
        closed = len(_SUCCESS_LINE.findall(text, end, p))
    if not closed:
        return text[start + 8 : i]
    target = depth - closed
    if target <= 0:
        return None
    # 3. That frame is the last invoke at that depth before the line found in step 1.
    needle = _AT_DEPTH[target]
    i = text.rfind(needle, 0, start)
    while i >= 0:
        start = text.rfind("\n", 0, i) + 1
        if (
            text.startswith("Program ", start)
            and text[i - 1] != ":"
            and text.find(" ", start + 8, i) < 0
        ):
            return text[start + 8 : i]
        i = text.rfind(needle, 0, start)
    return None
