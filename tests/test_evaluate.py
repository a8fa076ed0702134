"""The validation split, the run's calibration files and `python -m mnist_core.evaluate`, on real short runs.

    OMP_NUM_THREADS=1 python -m pytest -q tests/test_evaluate.py
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_core import run_probs, runs
from mnist_core.calibration import apply_temperature, fit_temperature, nll
from mnist_core.config import ConfigError, TrainConfig
from mnist_core.evaluate import main, top_confusions
from mnist_core.launch import run_training
from mnist_core.run_probs import stratified_holdout

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def runs_with_and_without_validation(tmp_path_factory):
    """Two real runs of 2 epochs on the offline sample (4,000 training digits): one holding out 800."""
    root = tmp_path_factory.mktemp("evaluate")
    made = {}
    for name, validation in (("plain", 0), ("validated", 800)):
        config = TrainConfig(data="mnist-sample", epochs=2, seed=0, device="cpu", validation=validation)
        run_dir = runs.create_run(root / "runs", config)
        assert run_training(config, run_dir, root / "data")["status"] == "finished"
        made[name] = run_dir
    return made


def test_holdout_is_stratified_seeded_and_disjoint():
    labels = torch.tensor([0] * 600 + [1] * 300 + [2] * 100)
    keep, held = stratified_holdout(labels, 100, seed=3)
    assert len(held) == 100 and len(keep) == 900
    assert not set(keep.tolist()) & set(held.tolist())
    assert torch.bincount(labels[held]).tolist() == [60, 30, 10]
    assert torch.equal(held, stratified_holdout(labels, 100, seed=3)[1])
    assert not torch.equal(held, stratified_holdout(labels, 100, seed=4)[1])


@pytest.mark.parametrize("n, message", [(1000, "between 0 and 999"), (999, "leave a class with none")])
def test_holdout_too_large_says_so(n, message):
    with pytest.raises(ValueError, match=message):
        stratified_holdout(torch.tensor([0] * 600 + [1] * 300 + [2] * 100), n, seed=0)


def test_negative_validation_is_a_config_error():
    with pytest.raises(ConfigError, match="validation: must be an integer >= 0"):
        TrainConfig(validation=-1).validate()


def test_validated_run_keeps_its_split_and_temperature(runs_with_and_without_validation):
    run_dir = runs_with_and_without_validation["validated"]
    val_probs, val_labels = run_probs.load_val_probs(run_dir)
    assert val_probs.shape == (800, 10) and np.bincount(val_labels).tolist() == [80] * 10
    temperature = run_probs.load_temperature(run_dir)
    assert temperature == pytest.approx(fit_temperature(val_probs, val_labels))
    # fitted on held-out images, it does not raise the NLL of the test images it never saw
    test_probs, test_labels = runs.load_probs(run_dir)
    assert nll(apply_temperature(test_probs, temperature), test_labels) <= nll(test_probs, test_labels) + 1e-3


def test_every_epoch_keeps_its_test_probabilities(runs_with_and_without_validation):
    run_dir = runs_with_and_without_validation["plain"]
    per_epoch, labels = run_probs.load_epoch_probs(run_dir)
    final, final_labels = runs.load_probs(run_dir)
    assert per_epoch.shape == (2, 1000, 10) and per_epoch.dtype == np.float16
    np.testing.assert_array_equal(labels, final_labels)
    np.testing.assert_allclose(per_epoch[-1].astype(np.float32), final, atol=1e-3, rtol=0)
    assert run_probs.load_val_probs(run_dir) is None and run_probs.load_temperature(run_dir) is None


def test_cli_json_has_the_issue_keys(runs_with_and_without_validation, capsys):
    run_dir = runs_with_and_without_validation["validated"]
    assert main(["--run", str(run_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"accuracy", "nll", "brier", "ece", "ece_scaled", "temperature"} <= set(report)
    probs, labels = runs.load_probs(run_dir)
    assert report["accuracy"] == pytest.approx(float((probs.argmax(1) == labels).mean()))
    assert report["temperature"] == pytest.approx(run_probs.load_temperature(run_dir))
    assert len(report["per_class_accuracy"]) == 10 and len(report["top_confusions"]) == 5


def test_cli_text_lines_as_a_subprocess(runs_with_and_without_validation):
    for name, scaled in (("validated", r"\d\.\d{4}"), ("plain", "n/a")):
        done = subprocess.run([sys.executable, "-m", "mnist_core.evaluate", "--run",
                               str(runs_with_and_without_validation[name])],
                              cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert any(line.startswith("ece: 0.") for line in lines)
        assert any(re.fullmatch(f"ece after temperature scaling: {scaled}", line) for line in lines)
        if name == "plain":
            assert "train with --validation N" in done.stdout


def test_cli_on_a_folder_that_is_no_run(tmp_path, capsys):
    assert main(["--run", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a run folder" in err and len(err.splitlines()) == 1


def test_top_confusions_largest_first():
    confusion = np.array([[5, 2, 0], [7, 9, 1], [0, 3, 4]])
    assert top_confusions(confusion, ["a", "b", "c"], top=3) == [
        {"true": "b", "predicted": "a", "count": 7}, {"true": "c", "predicted": "b", "count": 3},
        {"true": "a", "predicted": "b", "count": 2}]


def test_a_validation_split_larger_than_the_training_set_fails_the_run_saying_so(tmp_path):
    config = TrainConfig(data="mnist-sample", epochs=1, device="cpu", validation=5000)
    run_dir = runs.create_run(tmp_path / "runs", config)
    status = run_training(config, run_dir, tmp_path / "data")
    assert status["status"] == "failed"
    assert "validation: must be between 0 and 3999 (the training images), got 5000" in status["error"]
    assert not (run_dir / "model.pt").exists()
