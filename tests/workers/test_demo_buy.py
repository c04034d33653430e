"""The demo's buy loop in Chromium: /buy in the console chat prints a signed Mini App link, the
demo wallet (generated in the page) links, gets simulated SOL and signs, the swap confirms on the
simulator, and the fill and the position reach the console chat and the demo summary."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from tests.webapp.test_miniapp_pages import browser, watch_errors
from workers.demo import Demo, DemoConfig

pytestmark = pytest.mark.timeout(90)

LINK = re.compile(r"https?://\S+/app/trade\?[^\s\]]+")


async def test_buy_from_the_console_chat_with_the_demo_wallet(
    isolated_env: Path, tmp_path: Path
) -> None:
    demo = Demo(DemoConfig(speed=10, duration_s=60, api_port=0, db_path=tmp_path / "demo.db"))
    done = asyncio.Event()

    async def ready(d: Demo) -> None:
        try:
            await _buy(d, tmp_path)
        finally:
            done.set()
            d.stop()

    summary = await demo.run(on_ready=lambda d: _spawn(d, ready))
    assert done.is_set()
    await demo._buy_task  # type: ignore[attr-defined]  # its assertion, if any, first
    assert summary.trades == 1 and summary.errors == 0, summary
    assert demo.fill_lines and demo.fill_lines[0].startswith("[fill] bought")


async def _spawn(d: Demo, coro: object) -> None:
    # on_ready runs before the loop; the buy runs beside it so ticks (fills, summary) continue.
    d._buy_task = asyncio.create_task(coro(d))  # type: ignore[attr-defined,operator]


async def _buy(d: Demo, tmp_path: Path) -> None:
    assert d.chat is not None and d.sim is not None
    # Wait for the pump (MCAT) to exist and its risk to allow buying.
    mint = d.tokens["MOON"]
    text = ""
    for _ in range(60):
        text = await d.chat.say(f"/buy {mint} 0.1")
        if LINK.search(text):
            break
        await asyncio.sleep(0.5)
    found = LINK.search(text)
    assert found, text
    url = found.group(0)
    assert "#tgWebAppData=" in url
    async with browser(tmp_path) as ctx:
        page = await ctx.new_page()
        errors = watch_errors(page)
        await page.goto(url)
        await page.wait_for_selector("#demo-wallet-tag")
        await page.wait_for_selector("#quote dd", timeout=20_000)
        try:
            await page.wait_for_selector("#submit:not([disabled])", timeout=15_000)
        except Exception:
            quote = await page.locator("#quote").text_content()
            banner = await page.locator("#banner").text_content()
            wallet = await page.locator("body").inner_text()
            raise AssertionError(
                f"quote={quote!r} banner={banner!r} errors={errors} body={wallet[:1500]!r}"
            ) from None
        await page.click("#submit")
        result = page.locator("#result")
        await page.wait_for_selector("#result, #steps li[data-state=error]", timeout=30_000)
        steps = await page.locator("#steps").text_content()
        assert await result.count() == 1, f"{steps}: {await page.locator('#banner').text_content()}"
        status = await result.get_attribute("data-status")
        banner = await page.locator("#banner").text_content()
        assert status == "confirmed", f"{status}: {banner}"
        address = await page.evaluate("window.phantom.solana.publicKey.toBase58()")
        stored = await page.evaluate("Object.keys(localStorage)")
        assert "solai.demoWallet" in stored
        assert not errors, errors
    assert address in d.funded
    init = url.split("#tgWebAppData=", 1)[1]
    from urllib.parse import unquote

    async with httpx.AsyncClient(
        base_url=d.api_url, headers={"Authorization": f"tma {unquote(init)}"}
    ) as api:
        trades = (await api.get("/trades")).json()
        assert len(trades) == 1 and trades[0]["status"] == "confirmed"
        one = (await api.get(f"/trade/{trades[0]['id']}")).json()
        assert one["status"] == "confirmed" and one["in_amount"] == 100_000_000
    assert d.sim.chain.balance(address, mint) == trades[0]["out_amount"] > 0
    # The console chat sees the same account: /positions lists the new holding.
    positions = await d.chat.say("/positions")
    assert mint in positions, positions
    for _ in range(20):
        if d.fill_lines:
            break
        await asyncio.sleep(0.25)
