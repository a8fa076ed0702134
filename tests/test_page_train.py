"""App tests (AppTest, through app.py) of the Train page's own parts: the preset caption once a field differs,
the runs table and delete list, what the bars say before the worker's first batch, and a cross-validated run
(its fold on the bars; the Cross-validate option starts one).

    python -m pytest -q tests/test_page_train.py
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from page_fixtures import make_finished_run
from streamlit.testing.v1 import AppTest

from mnist_core import runs
from mnist_core.config import RECIPE_NOTES, TrainConfig

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MNIST_RUNS_DIR", str(tmp_path / "runs"))
    return lambda: AppTest.from_file(APP, default_timeout=60).run()


def running_run(runs_dir: Path, *events: dict) -> Path:
    """A run that looks live (its pid is this test's process) with these events written so far."""
    run_dir = runs.create_run(runs_dir, TrainConfig(data="mnist-sample", epochs=3))
    runs.set_status(run_dir, "running", pid=os.getpid())
    for e in events:
        runs.append_event(run_dir, e)
    return run_dir


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


def test_the_preset_caption_says_custom_once_a_field_differs(app):
    at = app()
    assert RECIPE_NOTES["default"] in captions(at)
    at.number_input(key="train_epochs").set_value(3).run()
    assert RECIPE_NOTES["default"] not in captions(at)
    assert "custom: the `default` preset, modified (epochs changed)" in captions(at)
    at.number_input(key="train_lr").set_value(0.01).run()
    assert "custom: the `default` preset, modified (epochs, lr changed)" in captions(at)
    at.selectbox(key="train_recipe").set_value("fast").run()  # a preset fills every field in again
    assert RECIPE_NOTES["fast"] in captions(at) and not any(c.startswith("custom") for c in captions(at))


def test_the_runs_table_has_no_none_and_the_delete_list_says_what_each_run_is(app, tmp_path):
    done = make_finished_run(tmp_path / "runs", tmp_path / "data")
    live = running_run(tmp_path / "runs")
    at = app()
    [table] = [d.value for d in at.dataframe]  # the only one (AppTest keeps no key for dataframes)
    assert list(table["run"]) == [live.name, done.name]
    assert "None" not in table.astype(str).to_numpy().ravel().tolist()
    accuracy = runs.read_run(done).test_accuracy
    assert list(table["test accuracy"]) == ["", f"{accuracy:.2%}"]
    assert at.selectbox(key="train_delete_pick").options == [
        f"{live.name} · running · mnist-sample", f"{done.name} · finished · mnist-sample · {accuracy:.2%}"]


@pytest.mark.parametrize(("events", "says"), [
    ((), "starting the worker"),
    (({"type": "stage", "stage": "loading data"},), "loading data"),
])
def test_before_the_first_batch_the_bars_say_what_the_worker_is_doing(app, tmp_path, events, says):
    run_dir = running_run(tmp_path / "runs", *events)
    at = app()
    assert at.subheader[0].value == f"Run {run_dir.name} · running"
    bars = [(bar.value, bar.text) for bar in at.get("progress")]
    assert len(bars) == 2 and all(value == 0 and says in text for value, text in bars), bars
    assert bars[1][1].startswith("Whole run: 0% · ")


def test_the_bars_show_the_batch_the_worker_reached(app, tmp_path):
    running_run(tmp_path / "runs", {"type": "stage", "stage": "training"},
                {"type": "batch", "epoch": 1, "batch": 25, "batches": 50, "loss": 0.4, "elapsed": 6.0})
    at = app()
    assert [bar.text for bar in at.get("progress")] == ["Epoch 2/3: 50%", "Whole run: 50% in 6 s, about 6 s left"]


def test_a_cross_validated_run_shows_its_fold_and_the_time_left_over_the_whole_run(app, tmp_path):
    run_dir = runs.create_run(tmp_path / "runs", TrainConfig(data="mnist-sample", epochs=2, folds=5))
    runs.set_status(run_dir, "running", pid=os.getpid())
    for e in ({"type": "stage", "stage": "training"},
              {"type": "fold", "fold": 0, "folds": 5, "held_out_accuracy": 0.9712, "held_out_loss": 0.1,
               "images": 800, "elapsed": 8.0},
              {"type": "fold_batch", "fold": 1, "folds": 5, "round": 1, "rounds": 5, "epoch": 1, "batch": 25,
               "batches": 50, "loss": 0.3, "elapsed": 12.0}):
        runs.append_event(run_dir, e)
    at = app()
    # 5 folds x 2 epochs on 4/5 of the data, then 2 on all: 10 epochs' work; fold 1's 2 epochs and fold 2's
    # 1.5 are 3.5 x 4/5 = 2.8 of them: 28%, and 12 s x 72/28 = 31 s left
    assert [bar.text for bar in at.get("progress")] == ["Fold 2/5 · Epoch 2/2: 50%",
                                                        "Whole run: 28% in 12 s, about 31 s left"]
    assert "Held-out accuracy of the folds: fold 1: 97.12%" in captions(at)


def test_the_cross_validate_option_starts_a_run_with_k_folds(tmp_path, monkeypatch):
    from apptest_helpers import open_app, started_run

    from mnist_core.run_probs import load_oof

    at = open_app(tmp_path / "data", tmp_path / "runs", monkeypatch, "app_pages/train.py")
    assert at.number_input(key="train_folds").value == 5 and at.number_input(key="train_folds").disabled
    at.selectbox(key="train_data").set_value("mnist-sample")
    at.selectbox(key="train_recipe").set_value("fast").run()
    at.number_input(key="train_epochs").set_value(1)
    at.checkbox(key="train_folds_on").check().run()
    at.number_input(key="train_folds").set_value(2).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    info = started_run(tmp_path / "runs")
    assert info.config["folds"] == 2 and info.status == "finished", info.error
    probs, labels, folds = load_oof(info.path)
    assert len(labels) == 4000 and sorted(np.unique(folds).tolist()) == [0, 1]
