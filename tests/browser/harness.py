"""Drive the real app: `streamlit run app.py` on a free local port, and Debian's Chromium through Playwright.

Shared by the browser tests (tests/browser/conftest.py) and scripts/screenshots.py:

    with AppServer(data_dir, runs_dir) as server, sync_playwright() as pw:
        browser = launch_chromium(pw)
        page = browser.new_page(); page.goto(server.url)
"""
from __future__ import annotations

import ast
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from mnist_core import files, runs

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"  # gitignored: what each browser test saw last
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


class ServerError(RuntimeError):
    """The app server did not come up; the message carries the end of its log."""


def chromium_path() -> str | None:
    return shutil.which("chromium")


def launch_chromium(playwright):
    """Debian's Chromium (Playwright's own browser download is not used), headless."""
    path = chromium_path()
    if path is None:
        raise FileNotFoundError("chromium not found: apt-get install -y chromium")
    return playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)


def page_titles(app_file: Path = ROOT / "app.py") -> list[str]:
    """The titles of st.Page(...) entries in app.py's PAGES list, in order, read without running Streamlit."""
    for node in ast.walk(ast.parse(Path(app_file).read_text())):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PAGES" for t in node.targets):
            return [kw.value.value for call in node.value.elts for kw in call.keywords if kw.arg == "title"]
    raise ValueError(f"{app_file} has no PAGES = [...] list")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`streamlit run app.py` in its own process group with MNIST_DATA_DIR / MNIST_RUNS_DIR set.

    Stopping kills the server's process group and any training worker it started (workers run in their
    own session so that they outlive the page; here they must not outlive the test).
    """

    def __init__(self, data_dir: Path, runs_dir: Path, port: int | None = None, log_path: Path | None = None,
                 startup_timeout: float = 120.0, env: dict[str, str] | None = None, args: list[str] | None = None):
        self.data_dir, self.runs_dir = Path(data_dir), Path(runs_dir)
        self.env = dict(env or {})  # added to this process's environment
        self.args = list(args or [])  # more `streamlit run` flags, e.g. ["--secrets.files", tmp secrets.toml]
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="streamlit-", suffix=".log")[1])
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> AppServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        env = dict(os.environ, MNIST_DATA_DIR=str(self.data_dir), MNIST_RUNS_DIR=str(self.runs_dir),
                   PYTHONUNBUFFERED="1", **self.env)
        cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(self.port),
               "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
               *self.args]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_healthy(self.url, self.startup_timeout, self.proc)
        except ServerError as exc:
            self.stop()
            raise ServerError(f"{exc}\n--- {self.log_path} ---\n{self.log_tail()}") from None

    def stop(self) -> None:
        if self.proc is not None:
            kill_group(self.proc.pid)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                kill_group(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
            self.proc = None
        stop_workers(self.runs_dir)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def wait_healthy(url: str, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Poll /_stcore/health until it answers "ok"; fail early if the server process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"the server exited with code {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise ServerError(f"{url}/_stcore/health did not answer ok within {timeout:.0f} s")


def kill_group(pid: int, sig: signal.Signals = signal.SIGTERM) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def stop_workers(runs_dir: Path) -> None:
    """Kill the detached training workers of still-running runs (each leads its own process group)."""
    for info in runs.list_runs(runs_dir):
        if info.status != "running":
            continue
        pid = files.read_json(info.path / "status.json", default={}).get("pid")
        try:
            if isinstance(pid, int) and pid != os.getpid() and os.getpgid(pid) == pid:
                kill_group(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


IDLE_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return !!app && app.dataset.testConnectionState === "CONNECTED" && app.dataset.testScriptState === "notRunning"
        && !document.querySelector('[data-testid="stStatusWidget"]')
        && !!document.querySelector('[data-testid="stMain"] [data-testid="stElementContainer"]');
}"""


def wait_idle(page, quiet_s: float = 1.0, timeout_s: float = 120.0) -> None:
    """Wait until the page's script has run to the end: connected, not running, no status widget, something
    drawn, and all of that for `quiet_s` in a row (a click starts its rerun a few hundred ms later)."""
    deadline, quiet_since = time.monotonic() + timeout_s, None
    while True:
        now = time.monotonic()
        if page.evaluate(IDLE_JS):
            quiet_since = quiet_since or now
            if now - quiet_since >= quiet_s:
                return
        else:
            quiet_since = None
        if now > deadline:
            raise TimeoutError(f"the app at {page.url} was still running after {timeout_s:.0f} s")
        page.wait_for_timeout(100)


def open_page(page, url: str) -> None:
    """Load a page of the app and wait for its navigation and for its script to finish."""
    page.goto(url)
    page.get_by_test_id("stSidebarNav").wait_for()
    wait_idle(page)


def choose(page, label: str, option: str) -> None:
    """Pick an option of the st.selectbox labelled `label`."""
    page.get_by_role("combobox", name=label, exact=True).click()
    page.get_by_role("option", name=option, exact=True).click()


def nav_links(page) -> dict[str, str]:
    """{page title: URL} of the sidebar navigation, in order."""
    links = page.get_by_test_id("stSidebarNavLink")
    links.first.wait_for()
    return {link.get_by_test_id("stMarkdownContainer").inner_text().strip(): link.get_attribute("href")
            for link in links.all()}  # the link's own text also holds its icon's name


def run_progress(page) -> int:
    """The Train page's 'Whole run' bar, 0..100 (aria-valuenow of its st.progress)."""
    bar = page.get_by_test_id("stProgress").filter(has_text="Whole run").get_by_role("progressbar")
    return int(bar.get_attribute("aria-valuenow"))


def draw(page, points: list[tuple[float, float]], steps: int = 12) -> None:
    """One pen stroke on the Draw page's canvas through `points`, fractions (0..1) of its width and height.

    The canvas (streamlit-drawable-canvas 0.13, a components-v2 component) lives in the page itself, in an
    isolated shadow root, not in an iframe: Playwright's CSS locators pierce open shadow roots.
    """
    canvas = page.get_by_test_id("stBidiComponentIsolated").locator("canvas").last  # fabric's input layer
    box = canvas.bounding_box()
    xy = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in points]
    page.mouse.move(*xy[0])
    page.mouse.down()
    for x, y in xy[1:]:
        page.mouse.move(x, y, steps=steps)
    page.mouse.up()
