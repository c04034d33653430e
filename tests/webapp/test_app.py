"""The API's ops endpoints and its one error shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from engine.settings import load_settings
from webapp.app import create_app
from workers.jobs.registry import default_registry
from workers.runtime import open_deps


@pytest.fixture
async def client(isolated_env: Path, tmp_sqlite: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(database_url=tmp_sqlite)
    async with open_deps(settings, default_registry()) as deps:
        app = create_app(deps)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            yield c


async def test_liveness_and_readiness(client: httpx.AsyncClient) -> None:
    assert (await client.get("/ops/liveness")).json() == {"status": "ok"}
    r = await client.get("/ops/readiness")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "mode": "embedded", "checks": {"database": "ok"}}


async def test_unknown_route_uses_the_error_shape(client: httpx.AsyncClient) -> None:
    r = await client.get("/nope", headers={"x-request-id": "req-42"})
    assert r.status_code == 404
    assert r.json() == {
        "error": {"code": "not_found", "message": "Not Found"},
        "request_id": "req-42",
    }
    assert r.headers["x-request-id"] == "req-42"


async def test_metrics_are_served_in_prometheus_format(client: httpx.AsyncClient) -> None:
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "solai_ingest_events" in r.text and "solai_signal_latency_ms_bucket" in r.text
