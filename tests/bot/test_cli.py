"""``solai bot``: refuses clearly without tokens; its options are documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.cli import build_parser, main


def test_without_any_token_it_names_both_variables(
    isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bot"]) == 2
    err = capsys.readouterr().err
    assert "SOLAI_TELEGRAM_TOKEN" in err and "SOLAI_DISCORD_TOKEN" in err
    assert "Traceback" not in err


def test_bot_is_a_cli_command_with_webhook_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bot", "--help"])
    out = capsys.readouterr().out
    assert "--webhook-url" in out and "--listen" in out and "--no-sync" in out
