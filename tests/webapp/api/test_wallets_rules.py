"""The watchlist and rules endpoints: CRUD, CSV import with per-line errors, validation."""

from __future__ import annotations

from tests.webapp.api.conftest import Api, expect_error, mint_of, tma


async def test_wallets_crud(api: Api) -> None:
    h = tma(31)
    addr = mint_of(40)
    expect_error(await api.client.get("/wallets"), 401, "auth_required")
    r = await api.client.post(
        "/wallets", headers=h, json={"address": addr, "alias": "Al", "tags": ["kol"]}
    )
    assert r.status_code == 201, r.text
    assert r.json() == {
        "address": addr,
        "alias": "Al",
        "tags": ["kol"],
        "monitors": 1,
        "balance_lamports": None,
    }
    await api.client.post("/wallets", headers=tma(32), json={"address": addr})
    listed = (await api.client.get("/wallets", headers=h)).json()
    assert [(w["address"], w["monitors"]) for w in listed] == [(addr, 2)]
    r = await api.client.patch(
        f"/wallets/{addr}", headers=h, json={"alias": "Bo", "tags": ["smart"]}
    )
    assert (
        r.status_code == 200 and r.json()["alias"] == "Bo" and r.json()["tags"] == ["kol", "smart"]
    )
    assert (await api.client.delete(f"/wallets/{addr}", headers=h)).status_code == 204
    expect_error(await api.client.delete(f"/wallets/{addr}", headers=h), 404, "not_watched")
    expect_error(
        await api.client.patch(f"/wallets/{addr}", headers=h, json={"alias": "x"}),
        404,
        "not_watched",
    )
    expect_error(
        await api.client.post("/wallets", headers=h, json={"address": "1" * 40}), 400, "not_address"
    )
    expect_error(
        await api.client.post("/wallets", headers=h, json={"address": addr, "tags": ["BAD TAG!"]}),
        400,
        "bad_tag",
    )
    expect_error(
        await api.client.post("/wallets", headers=h, json={"address": addr, "extra": 1}),
        422,
        "invalid_request",
    )


async def test_wallet_import_keeps_good_rows_and_reports_bad_ones(api: Api) -> None:
    h = {**tma(33), "Content-Type": "text/csv"}
    good1, good2 = mint_of(41), mint_of(42)
    csv = "\n".join(
        [
            "address,alias,tags",
            f"{good1},Alpha,kol;smart",
            "notanaddress,Bad,",
            f"{good2},,whale",
            f"{good1},Dup,",
            f"{mint_of(43)},{'x' * 80},",
        ]
    )
    r = await api.client.post("/wallets/import", headers=h, content=csv.encode())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["imported"] == 2
    assert [e["line"] for e in body["errors"]] == [3, 5, 6]
    assert "not a valid Solana public key" in body["errors"][0]["message"]
    listed = {w["address"]: w for w in (await api.client.get("/wallets", headers=tma(33))).json()}
    assert set(listed) == {good1, good2} and listed[good1]["tags"] == ["kol", "smart"]
    as_json = await api.client.post(
        "/wallets/import",
        headers={**tma(33), "Content-Type": "application/json"},
        content=f'[{{"address": "{mint_of(44)}", "alias": "J"}}, 5]'.encode(),
    )
    assert as_json.json()["imported"] == 1 and as_json.json()["errors"][0]["line"] == 2
    expect_error(
        await api.client.post("/wallets/import", headers=h, content=b"\xff\xfe"), 400, "not_utf8"
    )
    expect_error(
        await api.client.post("/wallets/import", headers=h, content=b'{"wallets": 3}'),
        400,
        "bad_file",
    )


async def test_rules_crud_validated_by_the_rule_models(api: Api) -> None:
    h = tma(34)
    rules = (await api.client.get("/rules", headers=h)).json()
    defaults = {r["name"] for r in rules}
    assert rules and all(r["origin"] == "default" for r in rules)
    assert "smart_buy_burst" in (await api.client.get("/rules/kinds", headers=h)).json()
    r = await api.client.post(
        "/rules",
        headers=h,
        json={"name": "my-burst", "kind": "smart_buy_burst", "params": {"min_wallets": 5}},
    )
    assert r.status_code == 201, r.text
    assert r.json()["origin"] == "user" and r.json()["params"]["min_wallets"] == 5
    body = expect_error(
        await api.client.post(
            "/rules",
            headers=h,
            json={"name": "bad", "kind": "smart_buy_burst", "params": {"min_wallets": 0}},
        ),
        400,
        "bad_rule_params",
    )
    assert "min_wallets" in body["error"]["message"]
    expect_error(
        await api.client.post("/rules", headers=h, json={"name": "x", "kind": "nope"}),
        400,
        "bad_rule_kind",
    )
    r = await api.client.patch("/rules/my-burst", headers=h, json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    some_default = sorted(defaults)[0]
    r = await api.client.patch(f"/rules/{some_default}", headers=h, json={"enabled": False})
    assert r.status_code == 200 and r.json()["enabled"] is False
    expect_error(
        await api.client.patch("/rules/unknown-rule", headers=h, json={"enabled": True}),
        404,
        "no_rule",
    )
    assert (await api.client.delete("/rules/my-burst", headers=h)).status_code == 204
    expect_error(await api.client.delete("/rules/my-burst", headers=h), 404, "no_rule")
    # The default's override can go; the default itself then still cannot.
    assert (await api.client.delete(f"/rules/{some_default}", headers=h)).status_code == 204
    expect_error(
        await api.client.delete(f"/rules/{some_default}", headers=h), 409, "rule_not_deletable"
    )
    expect_error(await api.client.delete("/rules/BAD NAME", headers=h), 400, "bad_rule_name")
    # Another user's rules are untouched by all this.
    others = (await api.client.get("/rules", headers=tma(35))).json()
    assert all(r["enabled"] for r in others if r["name"] == some_default)
