"""``solai sim`` as a process: binds the ports it is given (0 = any), prints them, serves the
real protocols, and exits cleanly on SIGINT."""

from __future__ import annotations

import asyncio
import re
import signal
import sys

import pytest

from engine.chain import programs as P
from engine.chain.rpc import RpcClient
from engine.chain.ws import LogsNotification, WsClient
from workers.cli import build_parser, main


def test_sim_is_registered() -> None:
    args = build_parser().parse_args(
        ["sim", "--scenario", "burst", "--seed", "3", "--rate", "20000"]
    )
    assert (args.scenario, args.seed, args.rate, args.http_port, args.ws_port) == (
        "burst",
        3,
        20000.0,
        8899,
        8900,
    )
    assert callable(args.func)


async def test_sim_process_serves_and_stops_on_sigint() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "workers.cli", "--log-level", "WARNING", "sim",
        "--http-port", "0", "--ws-port", "0", "--jupiter-port", "0", "--rate", "200",
        "--start-on-subscribe",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            line = (await proc.stdout.readline()).decode()
        ports = re.search(r"http=(http://\S+) ws=(ws://\S+)", line)
        assert ports, line
        async with RpcClient(ports[1]) as rpc, WsClient(ports[2]) as ws:
            assert await rpc.get_health() == "ok"
            await ws.logs_subscribe(P.PUMP_PROGRAM)
            async with asyncio.timeout(10):
                note = await ws.recv()
                while not isinstance(note, LogsNotification):
                    note = await ws.recv()
            assert await rpc.get_transaction(note.signature) is not None
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def test_bad_scenario_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "--scenario", "/nonexistent/scenario.json"]) == 2
    assert "cannot read scenario /nonexistent/scenario.json" in capsys.readouterr().err
