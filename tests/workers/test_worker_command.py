"""``solai worker`` stops cleanly on SIGTERM (a deploy's stop), not only on SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest


@pytest.mark.redis
@pytest.mark.timeout(60)
async def test_sigterm_stops_the_worker_with_exit_code_zero(
    isolated_env: Path, redis_url: str
) -> None:
    log = isolated_env / "worker.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLAI_")} | {
        "SOLAI_DATABASE_URL": f"sqlite+aiosqlite:///{isolated_env / 'w.db'}",
        "SOLAI_REDIS_URL": redis_url,
        "SOLAI_JOB_QUEUE": f"test-worker:{uuid.uuid4().hex[:8]}",
    }
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "workers.cli", "worker", "--grace", "2",
            stdout=out, stderr=out, env=env, cwd=isolated_env,
        )  # fmt: skip
    try:
        async with asyncio.timeout(30):
            while b"Starting worker" not in log.read_bytes():
                assert proc.returncode is None, log.read_text()
                await asyncio.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0, log.read_text()[-3000:]
    assert b"Traceback" not in log.read_bytes(), log.read_text()[-3000:]
