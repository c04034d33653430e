"""Signals, tokens, price series, Smart Activity: happy paths and clear 4xx on bad input."""

from __future__ import annotations

from engine.events import ChainEvent
from engine.storage.repos import wallets as wallet_repo
from tests.webapp.api.conftest import NOW_MS, Api, expect_error, mint_of, put_risk, seed_market, tma


async def test_signals_page_filters_and_cursor(api: Api) -> None:
    a, b = mint_of(11), mint_of(12)
    await seed_market(api.deps, a, symbol="AAA", n_signals=3)
    await seed_market(api.deps, b, symbol="BBB", n_signals=2)
    await put_risk(api.deps, a)
    headers = tma()
    r = await api.client.get("/signals", params={"limit": 2}, headers=headers)
    assert r.status_code == 200, r.text
    page = r.json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    first = page["items"][0]
    assert set(first) >= {"id", "ts", "mint", "strength", "components", "rules", "risk"}
    assert first["ts"] >= page["items"][1]["ts"]
    assert first["rules"][0]["name"] == "push_time"
    seen = [i["id"] for i in page["items"]]
    cursor = page["next_cursor"]
    while cursor:
        nxt = (
            await api.client.get("/signals", params={"limit": 2, "cursor": cursor}, headers=headers)
        ).json()
        seen += [i["id"] for i in nxt["items"]]
        cursor = nxt["next_cursor"]
    assert len(seen) == len(set(seen)) == 5
    strong = (await api.client.get("/signals", params={"min_score": 1.6}, headers=headers)).json()
    assert {i["strength"] for i in strong["items"]} == {2.0}
    only_a = (await api.client.get("/signals", params={"mint": a}, headers=headers)).json()
    assert {i["mint"] for i in only_a["items"]} == {a} and only_a["items"][0]["symbol"] == "AAA"
    # b has no risk verdict: unknown is riskiest, so a risk ceiling hides it.
    safe = (await api.client.get("/signals", params={"max_risk": "medium"}, headers=headers)).json()
    assert {i["mint"] for i in safe["items"]} == {a}
    assert safe["items"][0]["risk"]["known"] is True
    by_rule = (
        await api.client.get("/signals", params={"rule": "momentum"}, headers=headers)
    ).json()
    assert by_rule["items"] == []


async def test_signals_anonymous_get_one_short_page(api: Api) -> None:
    await seed_market(api.deps, mint_of(13), n_signals=3)
    page = (await api.client.get("/signals", params={"limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_cursor"] is None


async def test_signals_bad_input(api: Api) -> None:
    expect_error(await api.client.get("/signals", params={"min_score": 9}), 422, "invalid_request")
    expect_error(await api.client.get("/signals", params={"limit": 0}), 422, "invalid_request")
    expect_error(
        await api.client.get("/signals", params={"cursor": "!!"}, headers=tma()), 400, "bad_cursor"
    )
    expect_error(await api.client.get("/signals", params={"mint": "x" * 40}), 400, "not_mint")


async def test_token_and_timeseries(api: Api) -> None:
    mint = mint_of(14)
    await seed_market(api.deps, mint, symbol="TOK")
    await put_risk(api.deps, mint, freeze="F" * 32)
    r = await api.client.get(f"/tokens/{mint}")
    assert r.status_code == 200, r.text
    t = r.json()
    assert t["symbol"] == "TOK" and t["risk"]["blocks_buy"] is True
    assert "freeze_authority" in t["risk"]["badges"]
    assert t["price_lamports_per_token"] > 0 and t["market_cap_lamports"] > 0
    assert t["signal"]["mint"] == mint and t["volume_24h_lamports"] == 40 * 100_000_000
    r = await api.client.get(
        f"/tokens/{mint}/timeseries",
        params={"fields": "price,mcap,trades", "window": "1h", "interval": "10m"},
    )
    assert r.status_code == 200, r.text
    ts = r.json()
    assert ts["interval_ms"] == 600_000 and ts["fields"] == ["price", "mcap", "trades"]
    assert sum(p["trades"] for p in ts["points"]) == 40
    assert all(p["volume"] is None and p["price"] > 0 for p in ts["points"])
    prices = [p["price"] for p in ts["points"]]
    assert prices == sorted(prices)  # the seeded curve only goes up
    assert ts["points"][-1]["ts"] < NOW_MS


async def test_token_bad_input(api: Api) -> None:
    unknown = mint_of(15)
    expect_error(await api.client.get(f"/tokens/{unknown}"), 404, "unknown_token")
    expect_error(await api.client.get(f"/tokens/{unknown}/timeseries"), 404, "unknown_token")
    expect_error(await api.client.get("/tokens/" + "0" * 40), 400, "not_mint")
    mint = mint_of(16)
    await seed_market(api.deps, mint)
    base = f"/tokens/{mint}/timeseries"
    expect_error(await api.client.get(base, params={"fields": "price,colour"}), 400, "bad_field")
    expect_error(await api.client.get(base, params={"window": "forever"}), 400, "bad_window")
    expect_error(await api.client.get(base, params={"window": "30d"}), 400, "bad_window")
    expect_error(
        await api.client.get(base, params={"window": "7d", "interval": "1s"}), 400, "bad_interval"
    )


async def test_smart_activity(api: Api) -> None:
    mint, whale = mint_of(17), mint_of(18)
    await seed_market(api.deps, mint, symbol="SMRT")
    fill = ChainEvent(
        kind="trade",
        venue="pumpfun",
        signature="smartfill1",
        slot=5,
        ts=NOW_MS - 60_000,
        mint=mint,
        trader=whale,
        side="buy",
        sol_lamports=2_000_000_000,
        token_amount=50_000_000_000,
    )
    async with api.deps.sessions.begin() as session:
        await wallet_repo.ensure_wallet(
            session, address=whale, now_ms=NOW_MS, alias="Whale", tags=["whale"], featured=True
        )
        await wallet_repo.record_smart_trades(session, events=[fill])
    rows = (await api.client.get("/smart-activity", params={"window": "1h"})).json()
    assert [(r["wallet"], r["alias"], r["symbol"], r["side"]) for r in rows] == [
        (whale, "Whale", "SMRT", "buy")
    ]
    assert rows[0]["price_lamports_per_token"] == 2_000_000_000 / 50_000_000_000
    assert (await api.client.get("/smart-activity", params={"tag": "whale"})).json() != []
    assert (await api.client.get("/smart-activity", params={"tag": "kol"})).json() == []
    assert (await api.client.get("/smart-activity", params={"window": "30s"})).json() == []
    mine = await api.client.get("/smart-activity", params={"scope": "watchlist"}, headers=tma())
    assert mine.json() == []  # this user watches nobody yet
    expect_error(
        await api.client.get("/smart-activity", params={"window": "1y"}), 400, "bad_window"
    )
    expect_error(
        await api.client.get("/smart-activity", params={"scope": "x"}), 422, "invalid_request"
    )
