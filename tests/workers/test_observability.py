"""Metrics reflect what the pipeline did; logs are JSON lines carrying bound context."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from prometheus_client import generate_latest

from engine.observability.metrics import REGISTRY
from workers.observability import configure_logging


def test_metrics_registry_exports_the_pipeline_names() -> None:
    text = generate_latest(REGISTRY).decode()
    for name in (
        "solai_ingest_events_total",
        "solai_ingest_lag_slots",
        "solai_signal_latency_ms_bucket",
        "solai_job_outcomes_total",
        "solai_alert_queue_depth",
        "solai_trades_total",
    ):
        assert name in text or name.removesuffix("_total") in text, name


def test_logs_are_json_with_bound_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    try:
        with structlog.contextvars.bound_contextvars(request_id="req-7"):
            logging.getLogger("solai.test").info("trade %s submitted", "t1")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        record = json.loads(line)
        assert record["event"] == "trade t1 submitted"
        assert record["request_id"] == "req-7"
        assert record["level"] == "info" and record["logger"] == "solai.test"
    finally:
        logging.getLogger().handlers.clear()


def test_grafana_dashboard_queries_only_metrics_we_export() -> None:
    import re
    from pathlib import Path

    dash = json.loads(
        (
            Path(__file__).resolve().parents[2] / "docs" / "ops" / "grafana-dashboard.json"
        ).read_text()
    )
    exported = {m.name for m in REGISTRY.collect()}
    for panel in dash["panels"]:
        for target in panel["targets"]:
            for name in re.findall(r"solai_[a-z_]+", target["expr"]):
                base = re.sub(r"_(total|bucket|count|sum)$", "", name)
                assert base in exported, f"{panel['title']}: {name} is not exported"
