"""``solai sim --jupiter-port``: the simulator process also serves the local Jupiter API."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import httpx

from engine.chain import programs as P
from workers.cli import build_parser


def test_jupiter_port_defaults_to_what_the_default_url_expects() -> None:
    from engine.settings import Settings

    args = build_parser().parse_args(["sim"])
    assert args.jupiter_port == 8898
    assert Settings.model_fields["jupiter_url"].default == "http://127.0.0.1:8898/swap/v1"


async def test_sim_serves_quotes_on_its_jupiter_port() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workers.cli", "--log-level", "WARNING", "sim",
        "--http-port", "0", "--ws-port", "0", "--jupiter-port", "0", "--rate", "500",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            line = (await proc.stdout.readline()).decode()
        found = re.search(r"jupiter=(http://\S+)", line)
        assert found, line
        async with httpx.AsyncClient(base_url=found[1], timeout=10) as http:
            labels = await http.get("/program-id-to-label")
            assert labels.json()[P.PUMP_PROGRAM] == "Pump.fun"
            r = await http.get(
                "/quote",
                params={"inputMint": P.WSOL_MINT, "outputMint": P.WSOL_MINT, "amount": "1"},
            )
            assert r.status_code == 400 and r.json()["errorCode"] == "NO_ROUTES_FOUND"
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
