"""App tests (AppTest, through app.py) for runs that went wrong: a broken run folder, a probs.pt of the wrong
shape, a read-only runs folder, a diverged lr=10 run that must not become the default model.

    python -m pytest -q tests/test_pages_runs.py
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mounts import mounted
from page_fixtures import make_finished_run
from streamlit.testing.v1 import AppTest

from mnist_core import runs
from mnist_core.config import TrainConfig
from mnist_core.launch import run_training

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = ["app_pages/train.py", "app_pages/data.py", "app_pages/predictions.py", "app_pages/probabilities.py",
         "app_pages/review.py", "app_pages/draw.py"]


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> tuple[Path, Path]:
    """(data dir, a finished run folder) made once; tests copy the run into their own runs folder."""
    root = tmp_path_factory.mktemp("healthy")
    return root / "data", make_finished_run(root / "runs", root / "data")


def _app(monkeypatch, data_dir: Path, runs_dir: Path) -> AppTest:
    monkeypatch.setenv("MNIST_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(runs_dir))
    return AppTest.from_file(APP, default_timeout=60).run()


def _texts(at) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "success", "error", "warning")
                     for e in getattr(at, kind))


def _copy_run(run_dir: Path, runs_dir: Path, name: str | None = None) -> Path:
    return Path(shutil.copytree(run_dir, runs_dir / (name or run_dir.name)))


def test_a_broken_run_folder_breaks_no_page_and_can_be_deleted(healthy, tmp_path, monkeypatch):
    data_dir, good = healthy
    runs_dir = tmp_path / "runs"
    _copy_run(good, runs_dir)
    broken = _copy_run(good, runs_dir, "20991231-235959-dead")  # newest: it would be the default
    (broken / "status.json").write_text('{"status": "finished", "test_accura')
    at = _app(monkeypatch, data_dir, runs_dir)
    table = _visit_every_page(at)
    row = table[table["run"] == broken.name].iloc[0]
    assert row["status"] == runs.BROKEN and row["problem"].startswith("broken run folder: status.json is not valid")
    assert at.sidebar.selectbox(key="sidebar_run").value == good.name  # the pages skip it
    at.selectbox(key="train_delete_pick").set_value(broken.name).run()
    at.button(key="train_delete").click().run()
    at.button(key="train_delete_confirm").click().run()
    assert not at.exception and not broken.exists() and (runs_dir / good.name).exists()


def test_probabilities_of_the_wrong_shape_give_a_message_not_a_crash(healthy, tmp_path, monkeypatch):
    data_dir, good = healthy
    run_dir = _copy_run(good, tmp_path / "runs")
    runs.save_probs(run_dir, np.random.default_rng(0).random((1000, 3)), np.zeros(1000, dtype=np.int64))
    at = _app(monkeypatch, data_dir, tmp_path / "runs")
    for page in ("app_pages/predictions.py", "app_pages/probabilities.py", "app_pages/review.py"):
        at.switch_page(page).run()
        assert not at.exception, page
        assert f"Run {run_dir.name} cannot be shown" in _texts(at), page


def test_a_read_only_runs_folder_still_shows_every_page(healthy, tmp_path, monkeypatch):
    data_dir, good = healthy
    writable = tmp_path / "runs"
    _copy_run(good, writable)
    orphan = runs.create_run(writable, TrainConfig(data="mnist-sample"))
    runs.set_status(orphan, "running", pid=_dead_pid(), pid_start="gone:1")
    (read_only := tmp_path / "ro").mkdir()
    with mounted("--bind", "-o", "ro", str(writable), str(read_only)):
        table = _visit_every_page(_app(monkeypatch, data_dir, read_only))
        assert table.set_index("run").loc[orphan.name, "status"] == "failed"


def _visit_every_page(at):
    """Open every page (none may raise), then the Train page; its runs table (a DataFrame)."""
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, page
    at.switch_page("app_pages/train.py").run()
    return at.dataframe[0].value


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_diverged_run_is_flagged_and_never_the_default(healthy, tmp_path, monkeypatch):
    data_dir, good = healthy
    runs_dir = tmp_path / "runs"
    _copy_run(good, runs_dir)
    config = TrainConfig(data="mnist-sample", epochs=1, lr=10.0, device="cpu")
    diverged = runs.create_run(runs_dir, config)  # the newest run
    assert run_training(config, diverged, data_dir)["status"] == "finished"
    at = _app(monkeypatch, data_dir, runs_dir)
    picker = at.sidebar.selectbox(key="sidebar_run")
    assert picker.value == good.name and not at.sidebar.warning
    picker.set_value(diverged.name).run()  # looked at on purpose: allowed, with the warning beside it
    assert at.sidebar.warning[0].value.startswith("This run did not learn:")
    shutil.rmtree(runs_dir / good.name)
    at = _app(monkeypatch, data_dir, runs_dir)  # a new session: the only finished run did not learn
    assert at.sidebar.selectbox(key="sidebar_run").value is None
    at.switch_page("app_pages/predictions.py").run()
    assert not at.exception and "every finished run carries a warning" in _texts(at)


def test_the_watched_run_breaking_does_not_break_the_train_page(healthy, tmp_path, monkeypatch):
    data_dir, good = healthy
    run_dir = _copy_run(good, tmp_path / "runs")
    at = _app(monkeypatch, data_dir, tmp_path / "runs")
    at.session_state["train_watch"] = run_dir.name  # as after starting it from this page
    at.run()
    assert any(run_dir.name in h.value for h in at.subheader)
    (run_dir / "config.json").write_text("{")
    at.run()
    assert not at.exception and not any(run_dir.name in h.value for h in at.subheader)
