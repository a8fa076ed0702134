"""The load benchmark's websocket client (benchmarks/st_client.py) against a real `streamlit run app.py`.

    python -m pytest -q tests/test_st_client.py

One server on 127.0.0.1 (tests.browser.harness.AppServer) showing a fake finished run on the offline
mnist-sample; a verdict recorded through the client must be in the review store, and a widget key the page
does not have must say so, naming the keys it does have.
"""
from __future__ import annotations

import asyncio
import importlib.util
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

import pytest
from fake_run import make_fake_run

from mnist_core.review.store import ReviewStore
from tests.browser.harness import ROOT, AppServer

spec = importlib.util.spec_from_file_location("st_client", ROOT / "benchmarks" / "st_client.py")
st_client = importlib.util.module_from_spec(spec)
spec.loader.exec_module(st_client)


def run_async(coroutine):
    """asyncio.run in a thread of its own: the browser tests' sync Playwright leaves an event loop on this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def served(tmp_path_factory, mnist_sample, shared_data_dir):
    """(server, run_id, review db URL): a server showing one fake run on mnist-sample."""
    root = tmp_path_factory.mktemp("st-client")
    run_dir = make_fake_run(root / "runs", labels=mnist_sample.test_labels.numpy())
    db_url = f"sqlite:///{root / 'reviews.db'}"
    with AppServer(shared_data_dir, root / "runs", log_path=root / "streamlit.log",
                   env={"MNIST_REVIEW_DB": db_url}) as server:
        yield server, run_dir.name, db_url


def test_a_verdict_given_through_the_client_is_in_the_review_store(served):
    server, run_id, db_url = served

    async def give_verdict() -> tuple[int, str, list[str], float]:
        async with st_client.Session(server.url) as s:
            await s.visit("review", "reviewer=client-test")
            image = int(parse_qs(s.query_string)["image"][0])
            seconds = await s.click("review_fine")
            return image, s.query_string, s.texts("toast"), seconds

    image, query, toasts, seconds = run_async(give_verdict())
    assert seconds > 0
    assert any(t.startswith("Saved") and f" {image}" in t for t in toasts), toasts
    assert parse_qs(query)["image"][0] != str(image)  # on to the next unreviewed image
    store = ReviewStore(db_url)
    try:
        found = [(v.index, v.reviewer, v.verdict) for v in store.history(run_id)]
    finally:
        store.close()
    assert found == [(image, "client-test", "fine")]


def test_a_key_the_page_does_not_have_is_named_with_the_keys_it_has(served):
    server, _, _ = served

    async def use(key: str, action: str) -> None:
        async with st_client.Session(server.url) as s:
            await s.visit("predictions", "page=1")
            await getattr(s, action)(key)

    with pytest.raises(st_client.WidgetNotFoundError, match=r"no widget with key 'pred_pages'.*pred_page"):
        run_async(use("pred_pages", "step"))
    with pytest.raises(st_client.WidgetNotFoundError, match="'pred_page' is a number_input, not a button"):
        run_async(use("pred_page", "click"))
