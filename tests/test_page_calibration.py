"""App tests of the Probabilities page's calibration and epoch sections, on two real short runs (one with a
validation split, one without).

    OMP_NUM_THREADS=1 python -m pytest -q tests/test_page_calibration.py
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from apptest_helpers import all_text, open_app, started_run, table_with
from page_fixtures import make_finished_run

from mnist_core import run_probs, runs
from mnist_core.calibration import apply_temperature
from mnist_core.history import prediction_changes

PAGE = "app_pages/probabilities.py"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("calib")
    data_dir, runs_dir = root / "data", root / "runs"
    plain = make_finished_run(runs_dir, data_dir, epochs=1, seed=1)
    validated = make_finished_run(runs_dir, data_dir, epochs=3, seed=2, validation=500)
    return data_dir, runs_dir, plain, validated


def open_page(lab, monkeypatch, run_dir: Path, **params):
    return open_app(lab[0], lab[1], monkeypatch, PAGE, run=run_dir.name, **params)


def test_run_without_validation_says_how_to_get_one(lab, monkeypatch):
    at = open_page(lab, monkeypatch, lab[2])
    assert "no validation split" in all_text(at) and "--validation" in all_text(at)
    assert at.toggle(key="prob_calibrated").disabled
    metrics = table_with(at, "calibrated")
    assert metrics["calibrated"].isna().all() and (metrics["raw"] > 0).all()
    assert "did not keep" not in all_text(at)  # one epoch: kept, but nothing to step through
    assert "One epoch only" in all_text(at)


def test_calibrated_toggle_switches_the_probabilities(lab, monkeypatch):
    validated = lab[3]
    t = run_probs.load_temperature(validated)
    probs, labels = runs.load_probs(validated)
    at = open_page(lab, monkeypatch, validated, **{"class": "3", "threshold": "0.99"})
    raw_count = int(table_with(at, "under threshold").set_index("class").loc["3", "under threshold"])
    assert raw_count == int(((probs[labels == 3, 3]) < 0.99).sum())
    at.toggle(key="prob_calibrated").set_value(True).run()
    assert at.query_params["calibrated"] == "1"
    scaled = apply_temperature(probs, t)
    count = int(table_with(at, "under threshold").set_index("class").loc["3", "under threshold"])
    assert count == int((scaled[labels == 3, 3] < 0.99).sum())
    assert f"T = {t:.3f}" in all_text(at)
    metrics = table_with(at, "calibrated").set_index("metric")
    assert metrics.loc["NLL", "calibrated"] == pytest.approx(-np.log(scaled[np.arange(len(labels)), labels]).mean(),
                                                           rel=1e-4)


def test_epoch_slider_and_changed_predictions_restore_from_the_url(lab, monkeypatch):
    validated = lab[3]
    per_epoch, labels = run_probs.load_epoch_probs(validated)
    per_epoch = per_epoch.astype(np.float32)
    at = open_page(lab, monkeypatch, validated, epoch="2", changed="1-3")
    assert at.slider(key="prob_epoch").value == 2
    assert at.slider(key="prob_changed").value == (1, 3)
    expected = prediction_changes(per_epoch, labels, 0, 2)
    assert f"{len(expected['indices'])} test images changed their prediction from epoch 1 to 3" in all_text(at)
    at.slider(key="prob_changed").set_value((2, 3)).run()
    assert at.query_params["changed"] == "2-3"


def test_bad_epochs_in_the_url_fall_back(lab, monkeypatch):
    at = open_page(lab, monkeypatch, lab[3], epoch="99", changed="0-7")
    assert at.slider(key="prob_epoch").value == 3
    assert at.slider(key="prob_changed").value == (1, 3)


def test_train_page_field_holds_out_a_validation_split(tmp_path, monkeypatch):
    at = open_app(tmp_path / "data", tmp_path / "runs", monkeypatch, "app_pages/train.py")
    assert at.number_input(key="train_validation").value == 0  # the notebook recipe trains on every image
    at.selectbox(key="train_data").set_value("mnist-sample")
    at.number_input(key="train_epochs").set_value(1)
    at.number_input(key="train_validation").set_value(400).run()
    at.button(key="train_start").click().run()
    assert not at.exception
    info = started_run(tmp_path / "runs")
    assert info.config["validation"] == 400 and info.status == "finished", info.error
    assert len(run_probs.load_val_probs(info.path)[1]) == 400 and run_probs.load_temperature(info.path) > 0
