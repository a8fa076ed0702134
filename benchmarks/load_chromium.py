"""load.py's Chromium visitors: N real pages in one headless Chromium, driven through Playwright's async API.

Not run on its own: `python benchmarks/load.py --client chromium`. Each session is a page in its own browser
context (Debian's `chromium`); a round, as load.py's websocket client does it: on Predictions the next page of
the grid; on Probabilities the threshold slider one step down (keyboard); on Review, as its own reviewer
(`?reviewer=load-<n>`), the verdict "Fine". Rerun latency is the time from the action to the page being idle
again with the URL showing the new state (what a visitor waits for). The pages' Chromium shares the machine
with the server, so on a small machine this measures Chromium as much as the server.
"""
from __future__ import annotations

import asyncio
import shutil
import time

ACTION_TIMEOUT_S = 60.0
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage"]


async def idle_at(page, url_part: str | None, start: float, away_from: str | None = None) -> float:
    """Seconds from `start` until the page has run its script to the end, its URL holding `url_part` and no
    longer `away_from` (the new state is drawn, not the old one still idle)."""
    from tests.browser.harness import IDLE_JS

    deadline = start + ACTION_TIMEOUT_S
    await asyncio.sleep(0.05)  # the click's rerun starts a moment later: do not take the page before it as done
    while time.monotonic() < deadline:
        moved = (url_part is None or url_part in page.url) and (away_from is None or page.url != away_from)
        if moved and await page.evaluate(IDLE_JS):
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    raise TimeoutError(f"no answer within {ACTION_TIMEOUT_S:.0f} s")


async def session(browser, url: str, n: int, rounds: int, latencies: dict[str, list[float]], errors: list[str]
                  ) -> int:
    """One visitor's rounds; the number of verdicts it recorded."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page, recorded = await context.new_page(), 0
    try:
        await page.goto(f"{url}/predictions")
        await idle_at(page, None, time.monotonic())
        for r in range(rounds):
            await page.goto(f"{url}/predictions?page={r + 1}")  # a fresh view each round; its load is not timed
            await idle_at(page, None, time.monotonic())
            start = time.monotonic()
            await page.locator(".st-key-pred_page [data-testid='stNumberInputStepUp']").click()
            latencies["paging"].append(await idle_at(page, f"page={r + 2}", start))

            await page.goto(f"{url}/probabilities?threshold=0.{90 - r:02d}")
            await idle_at(page, None, time.monotonic())
            start = time.monotonic()
            await page.get_by_role("slider", name="Threshold on p(k | image)").press("ArrowLeft")
            latencies["slider"].append(await idle_at(page, f"threshold=0.{89 - r:02d}", start))

            await page.goto(f"{url}/review?reviewer=load-{n}")
            await idle_at(page, None, time.monotonic())
            before = page.url
            start = time.monotonic()
            await page.locator(".st-key-review_fine button").click()
            latencies["verdict"].append(await idle_at(page, None, start, away_from=before))  # on to the next image
            recorded += 1
            if await page.get_by_test_id("stException").count():
                errors.append(f"session {n}: an exception on the page")
    except Exception as exc:  # a timeout or a page that broke: counted, the other sessions go on
        errors.append(f"session {n}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        await context.close()
    return recorded


async def drive(url: str, sessions: int, rounds: int) -> tuple[dict[str, list[float]], list[str], int]:
    """All sessions at once in one Chromium: (latencies by action, errors, verdicts recorded)."""
    from playwright.async_api import async_playwright

    latencies, errors = {"paging": [], "slider": [], "verdict": []}, []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        counts = await asyncio.gather(*(session(browser, url, n, rounds, latencies, errors)
                                        for n in range(sessions)))
        await browser.close()
    return latencies, errors, sum(counts)
