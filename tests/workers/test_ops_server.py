"""The workers' ops port: /metrics, /ops/liveness and /ops/readiness over real HTTP."""

from __future__ import annotations

import httpx

from workers.observability import OpsServer, Readiness


async def test_readiness_reports_every_check_and_503_when_one_fails() -> None:
    checks = Readiness()
    state = {"database": "ok"}
    checks.add("database", lambda: state["database"])
    checks.add("consumer", lambda: "ok")
    server = OpsServer(0, readiness=checks)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            live = await http.get("/ops/liveness")
            assert (live.status_code, live.json()) == (200, {"status": "ok"})
            ready = await http.get("/ops/readiness")
            assert ready.status_code == 200
            both_ok = {"database": "ok", "consumer": "ok"}
            assert ready.json() == {"status": "ready", "checks": both_ok}
            state["database"] = "error: ConnectionRefusedError"
            degraded = await http.get("/ops/readiness")
            assert degraded.status_code == 503
            assert degraded.json()["status"] == "degraded"
            assert degraded.json()["checks"]["database"] == "error: ConnectionRefusedError"

            def broken() -> str:
                raise RuntimeError("boom")

            state["database"] = "ok"
            checks.add("consumer", broken)  # a check that raises reports, it does not crash
            raised = await http.get("/ops/readiness")
            assert raised.status_code == 503
            assert raised.json()["checks"]["consumer"] == "error: RuntimeError"
            checks.remove("consumer")
            assert (await http.get("/ops/readiness")).status_code == 200
            metrics = await http.get("/metrics")
            assert metrics.status_code == 200 and "solai_scorer_write_pending" in metrics.text
    finally:
        server.close()
