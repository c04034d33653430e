"""``solai bench pipeline`` and ``solai bench consumers`` through the real CLI, on small runs.

The figures themselves are not asserted (they belong to docs/performance.md); what is: the
benchmarks run end to end, print the fields the issue asks for, count every event, and clean up.
"""

from __future__ import annotations

import json

import pytest
from redis.asyncio import Redis

from workers.bench.consumers import shares
from workers.cli import main

pytestmark = pytest.mark.timeout(120)

PIPELINE_FIELDS = (
    "events_per_s",
    "backlog",
    "signal_p50_ms",
    "signal_p99_ms",
    "alert_p99_ms",
    "alerts_per_s",
    "bot_api_429",
    "first_user_p50_ms",
    "last_user_max_ms",
)


def test_pipeline_embedded_prints_the_figures(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--rate", "400", "--duration", "4", "--chats", "3", "--drain", "5", "--json"]
    code = main(["bench", "pipeline", *args])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for field in PIPELINE_FIELDS:
        assert field in out, field
    assert out["mode"] == "embedded"
    # Emission pauses after the window: everything emitted was ingested and scored.
    assert out["emitted"] >= 1000
    assert out["scored_events"] == out["ingested_events"] >= out["emitted"]
    assert out["signals"] >= 1 and out["signals_measured"] >= 1
    assert out["risk_levels"], "risk checks ran"
    assert out["alerts_sent"] >= 1


def test_consumers_share_partitions_without_overlap() -> None:
    assert shares(8, 1) == [list(range(8))]
    three = shares(8, 3)
    assert sorted(p for s in three for p in s) == list(range(8))
    with pytest.raises(ValueError, match="--consumers"):
        shares(8, 9)


@pytest.mark.redis
@pytest.mark.postgres
async def test_consumers_drain_every_event_into_postgres(
    pg_url: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    args = ["bench", "consumers", "--events", "3000", "--consumers", "2", "--json"]
    code = await asyncio.to_thread(main, [*args, "--redis", redis_url, "--database", pg_url])
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["events"] == 3000
    assert sum(c["events"] for c in out["per_consumer"]) == 3000
    parts = [set(c["partitions"]) for c in out["per_consumer"]]
    assert not parts[0] & parts[1]
    assert out["events_per_s"] > 0
    redis = Redis.from_url(redis_url)
    try:
        assert not [k async for k in redis.scan_iter(match="solai-bench-*")]
    finally:
        await redis.aclose()


@pytest.mark.redis
@pytest.mark.postgres
async def test_pipeline_split_runs_ingest_in_its_own_process(
    pg_url: str, redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    args = ["--rate", "300", "--duration", "3", "--chats", "2", "--drain", "5", "--split"]
    code = await asyncio.to_thread(
        main, ["bench", "pipeline", *args, "--json", "--redis", redis_url, "--database", pg_url]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["mode"] == "redis+postgresql, ingest in its own process"
    assert out["emitted"] >= 600
    # Every event the ingest process put on the bus was scored; its counters came back.
    assert out["scored_events"] == out["ingested_events"] >= out["emitted"]
    assert out["duplicates"] is not None


def test_split_needs_redis(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "pipeline", "--split", "--duration", "1"]) == 2
    assert "--split needs --redis" in capsys.readouterr().err
