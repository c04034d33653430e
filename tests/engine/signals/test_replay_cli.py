"""``solai replay`` and ``solai bench replay`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.events import ChainEvent
from tests.engine.signals.factory import SOL, T0, Curve, addr
from workers.cli import main

WHALES = {addr(f"Wh{i}"): f"whale{i}" for i in range(4)}
FREEZY = addr("Freezy")


def _events() -> list[ChainEvent]:
    out: list[ChainEvent] = []
    for name, smart in (("Burst", True), ("Organic", False), ("Freezy", True)):
        c = Curve(addr(name))
        c.create(T0)
        for i in range(24):
            c.buy(T0 + 5_000 * (i + 1), addr(f"R{name}{i}"), SOL // 2)
        buyers = list(WHALES) if smart else [addr(f"Big{i}") for i in range(4)]
        for i, who in enumerate(buyers):
            c.buy(T0 + 125_000 + 3_000 * i, who, 3 * SOL)
        out += c.events
    out.sort(key=lambda e: e.ts)
    return out


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    events = tmp_path / "events.ndjson"
    events.write_bytes(b"".join(e.to_json() + b"\n" for e in _events()))
    watchlist = tmp_path / "wallets.csv"
    rows = "".join(f"{a},{n},kol;smart\n" for a, n in WHALES.items())
    watchlist.write_text("address,alias,tags\n" + rows)
    risk = tmp_path / "risk.json"
    risk.write_text(
        json.dumps(
            {
                FREEZY: {"view": {"freeze_authority": addr("Auth"), "known": ["mint"]}},
                addr("Burst"): {
                    "level": "low",
                    "badges": [],
                    "penalties": {},
                    "view": {"known": ["mint", "holders"], "top10_pct": 12.5},
                },
            }
        )
    )
    return {"events": events, "watchlist": watchlist, "risk": risk}


def _replay(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["replay", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_replay_is_deterministic_and_explains_the_burst(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        str(files["events"]),
        "--watchlist",
        str(files["watchlist"]),
        "--risk",
        str(files["risk"]),
    ]
    code, first, err = _replay(capsys, *args)
    assert code == 0, err
    code, second, _ = _replay(capsys, *args)
    assert code == 0 and first == second and first
    lines = [json.loads(line) for line in first.splitlines()]
    assert all(list(d) == sorted(d) for d in lines)  # sorted keys
    assert {"mint", "ts", "strength", "components", "rules", "risk"} <= set(lines[0])
    burst = [d for d in lines if d["mint"] == addr("Burst")]
    assert any("whale0 3 SOL" in d["explanation"] for d in burst)
    kinds = {r["kind"] for d in burst for r in d["rules"]}
    assert "smart_buy_burst" in kinds
    freezy = [d for d in lines if d["mint"] == FREEZY]
    assert freezy and freezy[0]["risk"]["filters"]["no_freeze"]["passed"] is False
    assert freezy[0]["risk"]["level"] == "critical"  # judged by the risk engine from the facts
    assert freezy[0]["risk"]["penalties"]["freeze_authority"] > 0
    assert freezy[0]["components"]["risk"] < 3.0
    assert all(d["components"]["risk"] == 3.0 for d in burst)
    assert all(d["risk"]["filters"]["no_freeze"]["passed"] for d in burst)
    organic = [d["strength"] for d in lines if d["mint"] == addr("Organic")]
    assert max(organic, default=0.0) < max(d["strength"] for d in burst)
    # Floats are rounded to 4 places: no long tails in the bytes.
    assert all(len(str(d["strength"]).split(".")[-1]) <= 4 for d in lines)


def test_bad_lines_are_reported_with_their_number_and_skipped(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, clean, _ = _replay(capsys, str(files["events"]), "--watchlist", str(files["watchlist"]))
    assert code == 0
    lines = files["events"].read_bytes().splitlines(keepends=True)
    bad = tmp_path / "bad.ndjson"
    bad.write_bytes(
        lines[0]
        + b"{not json\n"
        + b"\n"  # blank lines are skipped silently
        + b'{"kind": "trade", "venue": "pumpfun"}\n'
        + b"".join(lines[1:])
    )
    code, out, err = _replay(capsys, str(bad), "--watchlist", str(files["watchlist"]), "--stats")
    assert code == 1
    assert f"{bad}:2: not valid JSON" in err
    assert f"{bad}:4: event field 'signature' is missing" in err
    assert ":3:" not in err
    assert out == clean  # the good lines gave exactly the same signals
    assert "bad=2" in err


def test_bad_watchlist_rows_and_missing_files(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wl = tmp_path / "w.csv"
    wl.write_text("address,alias,tags\n" + f"{addr('Wh0')},whale0,kol\n" + "nope,x,y\n")
    code, _, err = _replay(capsys, str(files["events"]), "--watchlist", str(wl))
    assert code == 1 and f"{wl}:3: not a Solana address: 'nope'" in err
    code, _, err = _replay(capsys, str(tmp_path / "absent.ndjson"))
    assert code == 2 and "cannot read events" in err


def test_bench_replay_prints_events_per_second(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "replay", "--json", "--events", "2000", "--repeat", "1"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["events"] == 2000 and result["events_per_s"] > 0
