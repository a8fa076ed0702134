"""The whole login in Chromium against a real OpenID Connect provider on 127.0.0.1: Log in in the sidebar, the
provider's form, back in the app as that email, a verdict on the Review page stored under it, Log out.

The provider is the `oidc-provider-mock` package (PyPI), started here as its own process; the app reads a
secrets.toml written to a temporary folder (`--secrets.files`), never the repository's.

    python -m pytest -q tests/browser/test_login.py
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import pytest
from fake_run import make_fake_run
from playwright.sync_api import expect

from mnist_core import runs
from mnist_core.data import load_dataset
from mnist_core.review.store import ReviewStore, default_db_url
from tests.browser.harness import SCREENSHOTS, AppServer, free_port, kill_group, open_page, wait_idle

EMAIL = "ada@example.com"
SHOWN = EMAIL.replace("@", "\u2060@")  # as the page shows it: md_escape keeps Markdown from making it a mailto link


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """`python -m oidc_provider_mock` on a free port of 127.0.0.1, with Ada as a predefined user."""
    port = free_port()
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    claims = json.dumps({"sub": EMAIL, "email": EMAIL, "email_verified": True, "name": "Ada Lovelace"})
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port",
                                 str(port), "--user-claims", claims], stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"{url}/.well-known/openid-configuration", timeout=2) as r:
                    assert json.load(r)["issuer"].rstrip("/") == url
                    break
            except OSError:
                assert proc.poll() is None, log.read_text()[-2000:]
                time.sleep(0.1)
        else:
            pytest.fail(f"the OIDC provider did not come up: {log.read_text()[-2000:]}")
        yield url
    finally:
        kill_group(proc.pid)
        proc.wait(timeout=15)


@pytest.fixture(scope="module")
def login_app(provider, tmp_path_factory):
    """The app with [auth] pointing at the provider, and one (fake) finished run to review."""
    root = tmp_path_factory.mktemp("login")
    runs_dir, data_dir = root / "runs", root / "data"
    run_dir = make_fake_run(runs_dir, labels=load_dataset("mnist-sample").test_labels.numpy())
    runs.set_status(run_dir, "finished", owner=EMAIL)  # as if she had started it from the Train page
    port = free_port()
    secrets = root / "secrets.toml"
    secrets.write_text(f'''[auth]
redirect_uri = "http://127.0.0.1:{port}/oauth2callback"
cookie_secret = "a-long-random-test-cookie-secret-0123456789"
client_id = "mnist-lab"
client_secret = "mnist-lab-secret"
server_metadata_url = "{provider}/.well-known/openid-configuration"
''')
    with AppServer(data_dir, runs_dir, port=port, log_path=root / "streamlit.log",
                   args=["--secrets.files", str(secrets)], env={"MNIST_ADMINS": "someone-else@example.com"}) as server:
        yield server


def test_login_through_the_provider_records_the_verdict_under_the_email(page, login_app):
    page.route("https://**/*", lambda route: route.abort())  # the provider's page links a CSS CDN: stay offline
    open_page(page, f"{login_app.url}/review")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Log in to record verdicts and start runs.")).to_be_visible()
    expect(page.get_by_text("Log in (in the sidebar) to give verdicts.")).to_be_visible()
    expect(page.locator(".st-key-review_fine button")).to_be_disabled()
    assert page.locator(".st-key-review_reviewer").count() == 0  # no name box to type someone else's name in

    page.locator(".st-key-auth_login button").click()
    page.wait_for_url("**/oauth2/authorize**")  # the provider's own form
    page.get_by_role("button", name=EMAIL).click()  # "Authenticate predefined users"
    page.wait_for_url(f"{login_app.url}/**")
    page.get_by_test_id("stSidebarNav").wait_for()
    wait_idle(page)
    expect(sidebar.get_by_text(f"Logged in as {SHOWN}")).to_be_visible()
    expect(sidebar.locator(".st-key-auth_logout button")).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sidebar.screenshot(path=str(SCREENSHOTS / "login-sidebar.png"))

    open_page(page, f"{login_app.url}/review")  # the identity cookie holds across a fresh page load
    expect(page.get_by_text(f"reviewing as {SHOWN}")).to_be_visible()
    page.locator(".st-key-review_fine button").click()
    wait_idle(page)
    page.screenshot(path=str(SCREENSHOTS / "login-review.png"))
    [run_id] = [p.name for p in login_app.runs_dir.iterdir() if p.is_dir()]
    [verdict] = ReviewStore(default_db_url(login_app.runs_dir)).history(run_id)
    assert (verdict.reviewer, verdict.verdict) == (EMAIL, "fine")

    open_page(page, login_app.url)  # the Train page: she may start runs, but deleting is for MNIST_ADMINS
    expect(page.get_by_text(f"Only administrators may delete; {SHOWN} is not one of them")).to_be_visible()
    expect(page.get_by_role("button", name="Start training")).to_be_visible()
    page.get_by_role("heading", name="Runs").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "login-train-runs.png"))

    page.locator(".st-key-auth_logout button").click()
    page.wait_for_url(lambda url: "end_session" in url or url.rstrip("/") == login_app.url)
    if "end_session" in page.url:  # the provider has an end_session_endpoint: Streamlit logs out there too
        page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{login_app.url}/**")
    page.get_by_test_id("stSidebarNav").wait_for()
    wait_idle(page)
    expect(sidebar.get_by_text("Log in to record verdicts and start runs.")).to_be_visible()
