"""Wallet import/export: bad rows reported by line, good rows kept, round trip through CSV."""

from __future__ import annotations

import random

import pytest
from solders.pubkey import Pubkey

from engine.smartmoney.registry import (
    WalletFileError,
    export_csv,
    import_rows,
    parse_csv,
    parse_json,
    parse_wallets,
)
from engine.storage.repos import users, wallets
from tests.conftest import Db


def addresses(n: int) -> list[str]:
    return [str(Pubkey.new_unique()) for _ in range(n)]


def test_5000_rows_with_50_bad_keeps_4950_and_reports_each_line() -> None:
    rng = random.Random(7)
    good = addresses(5000)
    bad_lines = set(rng.sample(range(2, 5002), 50))  # line 1 is the header
    lines = ["address,alias,tags"]
    broken = [
        "not-an-address,x,kol",
        "1111,short,smart",
        "O0Il" * 11 + ",ambiguous base58,",
        ",missing address,",
        f"{good[0][:-1]}!,bad char,",
    ]
    for line_no in range(2, 5002):
        addr = good[line_no - 2]
        if line_no in bad_lines:
            lines.append(broken[line_no % len(broken)])
        else:
            lines.append(f"{addr},wallet {line_no},kol;smart")
    parsed = parse_csv("\n".join(lines) + "\n")
    assert len(parsed.rows) == 4950
    assert sorted(e.line for e in parsed.errors) == sorted(bad_lines)
    assert all(e.message for e in parsed.errors)
    assert parsed.rows[0].tags == ("kol", "smart")


def test_row_errors_say_what_is_wrong() -> None:
    a, b = addresses(2)
    text = "\n".join(
        [
            f"{a},alice,KOL",
            f"{a},again,",
            f"{b},{'x' * 65},",
            f"{b},bob,bad tag!",
            f"{b},bob,smart,extra",
            "zzz,,",
        ]
    )
    parsed = parse_csv(text)
    assert [r.address for r in parsed.rows] == [a]
    assert [str(e) for e in parsed.errors] == [
        "line 2: duplicate of line 1",
        "line 3: alias is 65 characters; at most 64",
        "line 4: tag 'tag!' must be 1-24 of a-z, 0-9, _ or -",
        "line 5: expected at most 3 columns, got 4",
        "line 6: address 'zzz' is not a valid Solana public key",
    ]


def test_json_import_accepts_objects_and_strings() -> None:
    a, b = addresses(2)
    parsed = parse_wallets(f'[{{"address": "{a}", "alias": "al", "tags": ["MM"]}}, "{b}", 5]')
    assert [(r.address, r.alias, r.tags) for r in parsed.rows] == [
        (a, "al", ("mm",)),
        (b, None, ()),
    ]
    assert [str(e) for e in parsed.errors] == [
        "line 3: each wallet must be an object or an address string"
    ]
    with pytest.raises(WalletFileError, match="not JSON"):
        parse_json("[{")


def test_too_many_rows_is_refused_whole() -> None:
    text = "\n".join(f"{a},," for a in addresses(5001))
    with pytest.raises(WalletFileError, match="more than 5000 rows"):
        parse_csv(text)


async def test_import_then_export_round_trips(db: Db, clock) -> None:  # type: ignore[no-untyped-def]
    a, b = addresses(2)
    parsed = parse_csv(f"address,alias,tags\n{a},=HYPERLINK(evil),kol\n{b},,smart|mm\n")
    async with db.sessions.begin() as s:
        user = await users.get_or_create_telegram_user(s, telegram_id=1, now_ms=clock.now_ms())
        assert await import_rows(s, rows=parsed.rows, now_ms=clock.now_ms(), user_id=user.id) == 2
    async with db.sessions() as s:
        text = await export_csv(s, user_id=user.id)
        assert await wallets.monitor_count(s, address=a) == 1
    header, *rows = text.splitlines()
    assert header == "address,alias,tags"
    assert sorted(rows) == sorted([f"{a},'=HYPERLINK(evil),kol", f"{b},,mm;smart"])
    again = parse_csv(text)
    assert {r.address for r in again.rows} == {a, b} and again.errors == []
