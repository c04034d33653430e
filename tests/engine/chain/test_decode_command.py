"""``solai decode`` and ``solai bench decode`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from engine.events import ChainEvent
from workers.cli import main

from .conftest import fixture_path, notification, result_of

BUY = "pumpfun/pump_buy__enc-json.json"
SWAP = "pumpswap/pumpswap_buy_via_router_6m2C__enc-json.json"
MALFORMED = "malformed/not_a_transaction_string.json"


def _events(out: str) -> list[ChainEvent]:
    return [ChainEvent.from_json(line) for line in out.splitlines()]


def test_good_and_malformed_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad_json = tmp_path / "truncated.json"
    bad_json.write_text('{"jsonrpc": "2.0", "result": {')
    files = [fixture_path(BUY), fixture_path(MALFORMED), bad_json, fixture_path(SWAP)]
    code = main(["decode", *map(str, files)])
    out, err = capsys.readouterr()
    assert code == 1
    events = _events(out)
    assert [(e.venue, e.kind, e.side) for e in events] == [
        ("pumpfun", "trade", "buy"),
        ("pumpswap", "swap", "buy"),
    ]
    lines = [ln for ln in err.splitlines() if ln.startswith("solai decode:")]
    assert len(lines) == 2  # one line per bad file, nothing else from the decoder
    assert str(fixture_path(MALFORMED)) in lines[0] and "JSON string" in lines[0]
    assert str(bad_json) in lines[1] and "not valid JSON" in lines[1]


def test_all_good_exits_zero_and_reads_notifications(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    logs = result_of(json.loads(fixture_path(BUY).read_text()))["meta"]["logMessages"]
    note = tmp_path / "note.json"
    note.write_bytes(orjson.dumps(notification(logs, signature="S1")))
    many = tmp_path / "many.json"
    bare = result_of(json.loads(fixture_path(SWAP).read_text()))
    many.write_bytes(orjson.dumps([bare, result_of(json.loads(fixture_path(BUY).read_text()))]))
    code = main(["decode", str(note), str(many)])
    out, err = capsys.readouterr()
    assert code == 0, err
    events = _events(out)
    assert events[0].signature == "S1"
    assert [e.venue for e in events] == ["pumpfun", "pumpswap", "pumpfun"]


def test_missing_file_is_reported(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    assert main(["decode", str(missing)]) == 1
    _out, err = capsys.readouterr()
    assert f"solai decode: {missing}: No such file or directory" in err


def test_bench_decode_json_without_anchorpy(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "decode", "--json", "--n", "2000", "--repeat", "1", "--no-anchorpy"])
    out, _err = capsys.readouterr()
    assert code == 0
    report = json.loads(out.strip().splitlines()[-1])
    assert report["notifications"] == 2000
    assert report["events"] == 2000  # one trade per notification, routers' lines ignored
    assert report["notifications_per_s"] > 0 and report["events_per_s"] > 0
    assert report["anchorpy_notifications_per_s"] is None
    assert report["ratio_vs_anchorpy"] is None
    assert "skipped" in report["anchorpy_reason"]


def test_bench_without_a_name_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench"]) == 2
    assert "decode" in capsys.readouterr().out
