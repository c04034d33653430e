"""``solai bench decode``: pump.fun trade logsNotifications per second, ours vs anchorpy.

Generates realistic logsSubscribe notifications for pump.fun trades (ComputeBudget invokes,
``Instruction: Buy``/``Sell``, token and system CPIs, the emit_cpi self-invoke, the ``Program
data:`` line; some with an ATA creation first, some routed through a program that writes its own
``Program data:`` line) and times, in this process:

- ``notifications_per_s``: raw JSON bytes -> events with
  :func:`engine.chain.decode.decode_logs_notification` (JSON parsing included, as on the ingest
  path); ``events_per_s`` the same run counted in events;
- the same for 2026-sized TradeEvents (358-371 bytes instead of 129).

Then the same 2024 notifications go through anchorpy's ``EventParser`` with a pump.fun IDL (legacy
Anchor format, TradeEvent only). anchorpy pins older solana/solders than ours, so it runs in a
throwaway virtualenv (default: a folder in the system temp dir, reused between runs) via a
subprocess that reports its own figure. anchorpy is timed on already-parsed log lists (no JSON
parsing), so ``ratio_vs_anchorpy`` is a lower bound. If anchorpy cannot be installed the figure
is ``null`` with the reason.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import platform
import random
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import base58
import orjson

from engine.chain import programs as P
from engine.chain.decode import DecodeStats, decode_logs_notification

logger = logging.getLogger(__name__)

ANCHORPY_REQUIREMENT: Final = "anchorpy==0.21.0"
DEFAULT_N: Final = 200_000
DEFAULT_ANCHORPY_N: Final = 20_000
_ROUTER: Final = "6m2CDdhRgxpH4WjvdzxAYbGxwdGUz5MziiL5jek2kBma"
_TOKEN: Final = P.TOKEN_PROGRAM
_SYSTEM: Final = P.SYSTEM_PROGRAM
_PUMP: Final = P.PUMP_PROGRAM
_CB: Final = P.COMPUTE_BUDGET_PROGRAM
_ATA: Final = P.ASSOCIATED_TOKEN_PROGRAM
_FEES: Final = "pfeeUxB6jkeY1Hxd7CsFCAjcbHA9rWtchMGdZ6VojVZ"

# TradeEvent in the legacy (pre-0.30) Anchor IDL format that anchorpy 0.21 reads; field list
# from the pump.fun IDL (2024-09).
_LEGACY_IDL: Final = {
    "version": "0.1.0",
    "name": "pump",
    "instructions": [],
    "accounts": [],
    "types": [],
    "errors": [],
    "events": [
        {
            "name": "TradeEvent",
            "fields": [
                {"name": name, "type": kind, "index": False}
                for name, kind in (
                    ("mint", "publicKey"),
                    ("solAmount", "u64"),
                    ("tokenAmount", "u64"),
                    ("isBuy", "bool"),
                    ("user", "publicKey"),
                    ("timestamp", "i64"),
                    ("virtualSolReserves", "u64"),
                    ("virtualTokenReserves", "u64"),
                )
            ],
        }
    ],
}

_ANCHORPY_SCRIPT: Final = """
import json, sys, time
from anchorpy import EventParser, Idl
from anchorpy.coder.coder import Coder
from solders.pubkey import Pubkey

idl_text, program, logs_path = sys.argv[1], sys.argv[2], sys.argv[3]
with open(logs_path) as fh:
    all_logs = json.load(fh)
parser = EventParser(Pubkey.from_string(program), Coder(Idl.from_json(idl_text)))
events = []
for logs in all_logs[:200]:
    parser.parse_logs(logs, events.append)
events.clear()
start = time.perf_counter()
for logs in all_logs:
    parser.parse_logs(logs, events.append)
elapsed = time.perf_counter() - start
print(json.dumps({"notifications": len(all_logs), "events": len(events), "seconds": elapsed}))
"""


def register(subparsers: Any) -> None:
    """Add ``bench decode``."""
    parser = subparsers.add_parser(
        "decode",
        help="pump.fun trade logsNotifications/s: our decoder vs anchorpy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--n", type=int, default=DEFAULT_N, help="notifications to decode")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best one is reported")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--anchorpy-n",
        type=int,
        default=DEFAULT_ANCHORPY_N,
        help="notifications given to anchorpy (it is ~20x slower)",
    )
    parser.add_argument("--no-anchorpy", action="store_true", help="skip the anchorpy run")
    parser.add_argument(
        "--anchorpy-venv",
        type=Path,
        default=Path(tempfile.gettempdir()) / "solai-bench-anchorpy-venv",
        help="virtualenv for anchorpy (created and reused)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.set_defaults(func=run)


# -- workload -------------------------------------------------------------------------------------


def _trade_payload(
    rng: random.Random, mint: bytes, user: bytes, is_buy: bool, layout: str
) -> bytes:
    sol = rng.randrange(10_000_000, 5_000_000_000)
    token = rng.randrange(10**9, 10**14)
    vsol = rng.randrange(30 * 10**9, 85 * 10**9)
    vtoken = rng.randrange(279 * 10**12, 1073 * 10**12)
    ts = 1_760_000_000 + rng.randrange(10**7)
    head = P.PUMP_TRADE_EVENT + struct.pack(
        "<32sQQ?32sqQQQQ", mint, sol, token, is_buy, user, ts, vsol, vtoken, vsol - 30 * 10**9, 0
    )
    if layout == "2024":
        return head
    ix_name = rng.choice([b"buy", b"sell", b"buy_exact_sol_in"])
    tail = (
        bytes(32)  # fee_recipient
        + struct.pack("<QQ", 95, sol * 95 // 10_000)
        + user  # creator (any key)
        + struct.pack("<QQ?QQQq", 5, sol // 2000, True, 0, 0, sol, ts)
        + struct.pack("<I", len(ix_name))
        + ix_name
        + struct.pack("<?QQQQ", False, 0, 0, 0, 0)
        + struct.pack("<I", 0)  # shareholders
        + base58.b58decode(P.WSOL_MINT)
        + struct.pack("<QQQ", sol, vsol, vsol)
    )
    return head + tail


def _cu(rng: random.Random) -> str:
    used = rng.randrange(1_000, 60_000)
    return f"consumed {used} of {used + rng.randrange(10_000, 200_000)} compute units"


def _trade_logs(
    rng: random.Random, payload_b64: str, is_buy: bool, *, fee_program: bool = False
) -> list[str]:
    logs = [
        f"Program {_CB} invoke [1]",
        f"Program {_CB} success",
        f"Program {_CB} invoke [1]",
        f"Program {_CB} success",
    ]
    if rng.random() < 0.3:  # first buy of this wallet: create its token account
        logs += [
            f"Program {_ATA} invoke [1]",
            "Program log: Create",
            f"Program {_TOKEN} invoke [2]",
            "Program log: Instruction: GetAccountDataSize",
            f"Program {_TOKEN} {_cu(rng)}",
            f"Program return: {_TOKEN} pQAAAAAAAAA=",
            f"Program {_TOKEN} success",
            f"Program {_SYSTEM} invoke [2]",
            f"Program {_SYSTEM} success",
            "Program log: Initialize the associated token account",
            f"Program {_TOKEN} invoke [2]",
            "Program log: Instruction: InitializeImmutableOwner",
            f"Program {_TOKEN} {_cu(rng)}",
            f"Program {_TOKEN} success",
            f"Program {_TOKEN} invoke [2]",
            "Program log: Instruction: InitializeAccount3",
            f"Program {_TOKEN} {_cu(rng)}",
            f"Program {_TOKEN} success",
            f"Program {_ATA} {_cu(rng)}",
            f"Program {_ATA} success",
        ]
    routed = rng.random() < 0.1
    d = 2 if routed else 1
    if routed:
        logs += [f"Program {_ROUTER} invoke [1]", "Program log: Instruction: SwapV3"]
    logs += [
        f"Program {_PUMP} invoke [{d}]",
        f"Program log: Instruction: {'Buy' if is_buy else 'Sell'}",
    ]
    if fee_program:  # 2026: the curve asks the fee program for its fee tiers first
        logs += [
            f"Program {_FEES} invoke [{d + 1}]",
            "Program log: Instruction: GetFees",
            f"Program {_FEES} {_cu(rng)}",
            f"Program return: {_FEES} AAAAAAAAAABfAAAAAAAAAB4AAAAAAAAA",
            f"Program {_FEES} success",
        ]
    logs += [
        f"Program {_TOKEN} invoke [{d + 1}]",
        "Program log: Instruction: Transfer",
        f"Program {_TOKEN} {_cu(rng)}",
        f"Program {_TOKEN} success",
    ]
    if is_buy:
        logs += [
            f"Program {_SYSTEM} invoke [{d + 1}]",
            f"Program {_SYSTEM} success",
            f"Program {_SYSTEM} invoke [{d + 1}]",
            f"Program {_SYSTEM} success",
        ]
    logs += [
        f"Program {_PUMP} invoke [{d + 1}]",
        f"Program {_PUMP} {_cu(rng)}",
        f"Program {_PUMP} success",
        f"Program data: {payload_b64}",
        f"Program {_PUMP} {_cu(rng)}",
        f"Program {_PUMP} success",
    ]
    if routed:  # the router's own event line, same discriminator family: must be ignored
        fake = base64.b64encode(P.ANCHOR_SWAP_EVENT + rng.randbytes(17)).decode()
        logs += [
            f"Program data: {fake}",
            f"Program {_ROUTER} {_cu(rng)}",
            f"Program {_ROUTER} success",
        ]
    return logs


def generate(n: int, *, seed: int, layout: str) -> tuple[list[bytes], list[list[str]]]:
    """``n`` raw logsNotification messages and their log lists (one trade each)."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
    mints = [rng.randbytes(32) for _ in range(500)]
    users = [rng.randbytes(32) for _ in range(20_000)]
    signatures = [base58.b58encode(rng.randbytes(64)).decode() for _ in range(1024)]
    raws: list[bytes] = []
    all_logs: list[list[str]] = []
    for i in range(n):
        is_buy = rng.random() < 0.6
        payload = _trade_payload(rng, rng.choice(mints), rng.choice(users), is_buy, layout)
        logs = _trade_logs(
            rng, base64.b64encode(payload).decode(), is_buy, fee_program=layout == "2026"
        )
        msg = {
            "jsonrpc": "2.0",
            "method": "logsNotification",
            "params": {
                "result": {
                    "context": {"slot": 380_000_000 + i // 3},
                    "value": {"signature": signatures[i % 1024], "err": None, "logs": logs},
                },
                "subscription": 1,
            },
        }
        raws.append(orjson.dumps(msg))
        all_logs.append(logs)
    return raws, all_logs


# -- measurements ---------------------------------------------------------------------------------


def measure_ours(raws: list[bytes], repeat: int) -> tuple[float, int]:
    """(best seconds for all ``raws``, events per run)."""
    ts_ms = int(time.time() * 1000)
    for raw in raws[:2000]:  # warm the key cache and the code paths
        decode_logs_notification(raw, ts_ms=ts_ms)
    best = float("inf")
    events = 0
    for _ in range(max(repeat, 1)):
        stats = DecodeStats()
        start = time.perf_counter()
        for raw in raws:
            decode_logs_notification(raw, ts_ms=ts_ms, stats=stats)
        best = min(best, time.perf_counter() - start)
        events = stats.events
        if stats.decode_errors:
            raise RuntimeError(f"benchmark workload produced decode errors: {stats}")
    return best, events


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_anchorpy(venv: Path) -> tuple[Path | None, str | None]:
    """(python of a venv with anchorpy, None) or (None, why it could not be made)."""
    python = _venv_python(venv)
    check = [str(python), "-c", "import anchorpy"]
    if python.exists() and subprocess.run(check, capture_output=True, timeout=120).returncode == 0:  # noqa: S603 - our own venv
        return python, None
    try:
        subprocess.run(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300
        )
        install = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                ANCHORPY_REQUIREMENT,
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"could not create the anchorpy virtualenv: {exc}"
    if install.returncode != 0:
        tail = (install.stderr or install.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"pip install {ANCHORPY_REQUIREMENT} failed: {tail[0][:300]}"
    return python, None


def measure_anchorpy(
    all_logs: list[list[str]], venv: Path
) -> tuple[float | None, int | None, str | None]:
    """(notifications/s, events, None) from anchorpy's EventParser, or (None, None, reason)."""
    python, reason = ensure_anchorpy(venv)
    if python is None:
        return None, None, reason
    with tempfile.TemporaryDirectory(prefix="solai-bench-") as tmp:
        logs_path = Path(tmp) / "logs.json"
        logs_path.write_bytes(orjson.dumps(all_logs))
        script = Path(tmp) / "anchorpy_bench.py"
        script.write_text(_ANCHORPY_SCRIPT)
        try:
            proc = subprocess.run(  # noqa: S603 - fixed argv, no shell
                [str(python), str(script), json.dumps(_LEGACY_IDL), _PUMP, str(logs_path)],
                capture_output=True,
                text=True,
                timeout=1800,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return None, None, f"anchorpy run failed: {exc}"
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        return None, None, f"anchorpy run failed: {tail[0][:300]}"
    try:
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        return report["notifications"] / report["seconds"], int(report["events"]), None
    except (ValueError, KeyError, IndexError, ZeroDivisionError) as exc:
        return None, None, f"anchorpy run printed no figure: {exc}"


def run(args: argparse.Namespace) -> int:
    """Run the benchmark and print the figures."""
    n = max(args.n, 1000)
    raws, all_logs = generate(n, seed=args.seed, layout="2024")
    seconds, events = measure_ours(raws, args.repeat)
    raws_2026, _ = generate(min(n, 100_000), seed=args.seed + 1, layout="2026")
    seconds_2026, _events_2026 = measure_ours(raws_2026, args.repeat)
    result: dict[str, Any] = {
        "notifications": n,
        "events": events,
        "notifications_per_s": round(n / seconds),
        "events_per_s": round(events / seconds),
        "notifications_per_s_2026_layout": round(len(raws_2026) / seconds_2026),
        "anchorpy_notifications_per_s": None,
        "anchorpy_events": None,
        "anchorpy_reason": None,
        "ratio_vs_anchorpy": None,
        "anchorpy_version": ANCHORPY_REQUIREMENT,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu(s) {platform.processor()}".strip(),
    }
    if args.no_anchorpy:
        result["anchorpy_reason"] = "skipped (--no-anchorpy)"
    else:
        ap_n = max(min(args.anchorpy_n, n), 100)
        rate, ap_events, reason = measure_anchorpy(all_logs[:ap_n], args.anchorpy_venv)
        result["anchorpy_reason"] = reason
        if rate is not None:
            result["anchorpy_notifications_per_s"] = round(rate)
            result["anchorpy_events"] = ap_events
            result["ratio_vs_anchorpy"] = round(result["notifications_per_s"] / rate, 1)
    if args.json:
        print(json.dumps(result))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    return 0
