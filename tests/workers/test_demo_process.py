"""`solai demo` as a person runs it: Ctrl-C ends the process at once, cleanly, file intact."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(90)


async def test_ctrl_c_stops_the_interactive_demo_with_stdin_idle(isolated_env: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workers.cli", "demo", "--port", "0", "--speed", "5",
        stdin=asyncio.subprocess.PIPE,  # open and silent: the chat is waiting on a line
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=isolated_env,
    )  # fmt: skip
    assert proc.stdout is not None
    banner = b""
    async with asyncio.timeout(40):
        while b"console chat" not in banner:
            banner += await proc.stdout.readline()
    await asyncio.sleep(2)
    proc.send_signal(signal.SIGINT)
    # Must not wait for someone to press Enter (a reader thread blocked in readline).
    out, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err.decode()[-2000:]
    assert b"stopped cleanly" in out
    assert b"Traceback" not in err
    with sqlite3.connect(isolated_env / "var" / "demo.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
