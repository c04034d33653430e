"""`solai demo --headless`: the story of the demo scenario happens, with no error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workers.cli import main

pytestmark = pytest.mark.timeout(120)


def test_headless_demo_tells_the_story(
    isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # At 10x the scenario's first 150 s (burst at 18 s, rug at 95 s) pass in 15 s.
    code = main(["demo", "--headless", "--duration", "15", "--speed", "10", "--port", "0"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0, summary
    assert summary["errors"] == 0
    assert summary["events"] > 100 and summary["signals"] >= 1
    assert summary["story"] == {
        "smart_money_burst_signalled": True,
        "dev_rug_flagged": True,
        "honeypot_flagged": True,
    }
    assert (isolated_env / "var" / "demo.db").is_file()
