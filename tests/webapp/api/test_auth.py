"""Mini App initData, API keys, roles and rate limits, through the API and on their own."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import fixtures_dir
from tests.webapp.api.conftest import (
    BOT_TOKEN,
    NOW_MS,
    Api,
    ApiFactory,
    expect_error,
    sign_init_data,
    tma,
)
from webapp.auth import (
    AuthError,
    RateLimiter,
    check_init_data,
    check_init_data_third_party,
    hash_api_key,
)


def _vectors() -> list[dict[str, Any]]:
    path = fixtures_dir("telegram", "initdata_vectors.json")
    return list(json.loads(path.read_text())["vectors"])


def test_telegram_vectors_validate_as_published() -> None:
    # The vectors are from 2022-2024: the clock is injected and expiry is off for the HMAC alone.
    for v in _vectors():
        try:
            if v["group"] == "hmac":
                check_init_data(
                    v["init_data"], bot_token=v["bot_token"], now_s=1_800_000_000, max_age_s=None
                )
            else:
                check_init_data_third_party(
                    v["init_data"],
                    bot_id=v["bot_id"],
                    public_key_hex=v["ed25519_public_key_hex"],
                    now_s=1_800_000_000,
                    max_age_s=None,
                )
            valid = True
        except AuthError:
            valid = False
        assert valid is v["expected_valid"], v["note"]


def test_vector_expires_with_an_injected_clock() -> None:
    v = next(x for x in _vectors() if x["bot_token"].startswith("5768337691"))
    auth_date = 1662771648
    ok = check_init_data(
        v["init_data"], bot_token=v["bot_token"], now_s=auth_date + 10, max_age_s=3600
    )
    assert ok.telegram_id == 279058397 and ok.username == "vdkfrost"
    with pytest.raises(AuthError) as err:
        check_init_data(v["init_data"], bot_token=v["bot_token"], now_s=auth_date + 2, max_age_s=1)
    assert err.value.code == "expired_init_data"


def test_init_data_problems_are_named() -> None:
    now = NOW_MS // 1000
    good = sign_init_data({"id": 7, "first_name": "A"}, auth_date=now)
    assert check_init_data(good, bot_token=BOT_TOKEN, now_s=now, max_age_s=60).telegram_id == 7
    cases = {
        "bad_hash": good.replace("first_name%22%3A%22A", "first_name%22%3A%22B"),
        "missing_user": sign_init_data(None, auth_date=now),
        "bad_auth_date": sign_init_data({"id": 7}, auth_date=now + 3600),
        "malformed_init_data": "a&&b==c",
        "missing_hash": "auth_date=1&user=%7B%7D",
    }
    for code, data in cases.items():
        with pytest.raises(AuthError) as err:
            check_init_data(data, bot_token=BOT_TOKEN, now_s=now, max_age_s=60)
        assert err.value.code == code, (code, err.value.message)
    with pytest.raises(AuthError) as err:
        check_init_data(good, bot_token="4242:other", now_s=now, max_age_s=60)
    assert err.value.code == "bad_hash"


async def test_me_with_valid_initdata_creates_the_user(api: Api) -> None:
    r = await api.client.get("/me", headers=tma(555, language_code="fr"))
    assert r.status_code == 200, r.text
    me = r.json()
    assert me["telegram_id"] == 555 and me["username"] == "u555" and me["language"] == "fr"
    assert me["role"] == "user" and me["wallet"] is None
    again = await api.client.get("/me", headers=tma(555))
    assert again.json()["id"] == me["id"]


async def test_bad_initdata_is_401_with_the_reason(api: Api) -> None:
    headers = tma(555)
    tampered = {"Authorization": headers["Authorization"].replace("u555", "u556")}
    expect_error(await api.client.get("/me", headers=tampered), 401, "bad_hash")
    old = tma(555, auth_date=NOW_MS // 1000 - 7200)
    body = expect_error(await api.client.get("/me", headers=old), 401, "expired_init_data")
    assert "expired" in body["error"]["message"]
    no_user = {"Authorization": "tma " + sign_init_data(None, auth_date=NOW_MS // 1000)}
    expect_error(await api.client.get("/me", headers=no_user), 401, "missing_user")
    expect_error(
        await api.client.get("/me", headers={"Authorization": "Basic abc"}),
        401,
        "bad_authorization",
    )
    expect_error(await api.client.get("/me"), 401, "auth_required")


async def test_tma_without_a_bot_token_says_so(make_api: ApiFactory) -> None:
    async with make_api(telegram_token=None) as api:
        expect_error(await api.client.get("/me", headers=tma()), 401, "tma_not_configured")


async def test_api_keys_identify_programmatic_users(api: Api) -> None:
    r = await api.client.post("/me/api-key", headers=tma(77))
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    async with api.deps.sessions() as session:
        from sqlalchemy import select

        from engine.storage.models import User

        user = (await session.scalars(select(User).where(User.telegram_id == 77))).one()
    assert user.api_key_hash == hash_api_key(key) and key not in (user.api_key_hash or "")
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        me = await api.client.get("/me", headers=headers)
        assert me.status_code == 200 and me.json()["telegram_id"] == 77
    expect_error(
        await api.client.get("/me", headers={"X-API-Key": "solai_nope"}), 401, "unknown_api_key"
    )
    # A new key replaces the old one.
    await api.client.post("/me/api-key", headers=tma(77))
    expect_error(await api.client.get("/me", headers={"X-API-Key": key}), 401, "unknown_api_key")


async def test_roles(make_api: ApiFactory) -> None:
    async with make_api(admin_telegram_ids="9000") as api:
        expect_error(await api.client.get("/admin/audit"), 401, "auth_required")
        expect_error(await api.client.get("/admin/audit", headers=tma(1)), 403, "admin_only")
        r = await api.client.get("/admin/audit", headers=tma(9000))
        assert r.status_code == 200 and isinstance(r.json(), list)
        assert (await api.client.get("/me", headers=tma(9000))).json()["role"] == "admin"
        user_id = (await api.client.get("/me", headers=tma(1))).json()["id"]
        r = await api.client.put(
            f"/admin/users/{user_id}/role", headers=tma(9000), json={"role": "admin"}
        )
        assert r.status_code == 200
        assert (await api.client.get("/admin/audit", headers=tma(1))).status_code == 200
        expect_error(
            await api.client.put(
                "/admin/users/999999/role", headers=tma(9000), json={"role": "user"}
            ),
            404,
            "no_user",
        )
        # Anonymous callers still read the public feed.
        assert (await api.client.get("/signals")).status_code == 200


async def test_rate_limit_per_key(make_api: ApiFactory) -> None:
    async with make_api(api_rate_per_key_per_s=0.01, api_burst_per_key=3) as api:
        codes = [(await api.client.get("/me", headers=tma(5))).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = await api.client.get("/me", headers=tma(5))
        body = expect_error(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) >= 1 and body["request_id"]
        # Another user has a budget of their own.
        assert (await api.client.get("/me", headers=tma(6))).status_code == 200


async def test_rate_limit_per_ip(make_api: ApiFactory) -> None:
    async with make_api(api_rate_per_ip_per_s=0.01, api_burst_per_ip=2) as api:
        assert (await api.client.get("/signals")).status_code == 200
        assert (await api.client.get("/signals")).status_code == 200
        expect_error(await api.client.get("/signals"), 429, "rate_limited")
        # Liveness is never limited: orchestrators must always get an answer.
        assert (await api.client.get("/ops/liveness")).status_code == 200


def test_token_bucket_refills() -> None:
    bucket = RateLimiter(2.0, 2)
    assert bucket.take("k", 0.0) is None and bucket.take("k", 0.0) is None
    wait = bucket.take("k", 0.0)
    assert wait is not None and wait == pytest.approx(0.5)
    assert bucket.take("k", 0.5) is None
    small = RateLimiter(1.0, 1, max_keys=2)
    for k in "abc":
        small.take(k, 0.0)
    assert small.take("a", 0.0) is None  # evicted, so it starts full again
