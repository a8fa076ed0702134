"""Cross-validation for the data review (--folds K): fold assignment, out-of-fold probabilities and embeddings,
progress, cancel inside a fold, 2 torchrun processes against 1, bad K and datasets too small for K folds.

    MNIST_DATA_DIR=/work/shared/data python -m pytest -q tests/test_folds.py    # about a minute

Runs train on the first 1,500/300 real MNIST digits saved as an imported dataset in a temporary data dir.
"""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_core import runs
from mnist_core.config import ConfigError, TrainConfig, apply_recipe
from mnist_core.data import DIGITS, load_dataset, normalization
from mnist_core.distributed import TIMEOUT_ENV
from mnist_core.folds import fold_assignment, fold_dataset
from mnist_core.launch import run_training
from mnist_core.predict import predict_with_features
from mnist_core.progress import summarize
from mnist_core.run_probs import load_embeddings, load_oof
from mnist_core.trainer import train

REPO = Path(__file__).resolve().parent.parent
SUBSET, TINY = "mnist-1k5", "tiny"
# The `fast` recipe on the small `fast` net at its gentler learning rate: these tests compare fold models trained in
# different processes to 1e-4, and one epoch of the recipe's BatchNorm net at 1e-2 on 1,500 digits amplifies
# float rounding past that (in the full suite, not alone: cause not found). float32, whatever the CPU offers.
CONFIG = dataclasses.replace(apply_recipe(TrainConfig(data=SUBSET, device="cpu", seed=3), "fast"), epochs=1, folds=3,
                             architecture="fast", lr=5e-3, label_smoothing=0.0, precision="float32")


def save_dataset(root: Path, name: str, train_images, train_labels, test_images, test_labels) -> None:
    folder = root / "datasets" / name
    folder.mkdir(parents=True)
    np.savez(folder / "data.npz", train_images=np.asarray(train_images), train_labels=np.asarray(train_labels),
             test_images=np.asarray(test_images), test_labels=np.asarray(test_labels))
    (folder / "manifest.json").write_text(json.dumps({"class_names": DIGITS}))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, mnist_full) -> Path:
    """SUBSET: 1,500 train / 300 test real digits; TINY: 3 training images of every class."""
    full, root = mnist_full, tmp_path_factory.mktemp("data")
    save_dataset(root, SUBSET, full.train_images[:1500], full.train_labels[:1500], full.test_images[:300],
                 full.test_labels[:300])
    labels = full.train_labels[:2000].numpy()
    three = np.concatenate([np.flatnonzero(labels == c)[:3] for c in range(10)])
    save_dataset(root, TINY, full.train_images[three], labels[three], full.test_images[:50], full.test_labels[:50])
    return root


@pytest.fixture(scope="module")
def cv_run(data_dir, tmp_path_factory) -> tuple[Path, list[dict]]:
    """One finished 3-fold run: (run dir, every event run_training passed on). One torch thread (conftest sets
    OMP_NUM_THREADS=1, inherited by torchrun's ranks), so retrained fold models match to float rounding."""
    seen: list[dict] = []
    run_dir = runs.create_run(tmp_path_factory.mktemp("runs"), CONFIG)
    assert run_training(CONFIG, run_dir, data_dir, on_event=seen.append)["status"] == "finished"
    return run_dir, seen


def test_fold_assignment_is_stratified_seeded_and_balanced(mnist_sample):
    labels = mnist_sample.train_labels.numpy()
    folds = fold_assignment(labels, 5, seed=0)
    assert folds.dtype == np.int8 and folds.shape == labels.shape and set(np.unique(folds)) == set(range(5))
    sizes = np.bincount(folds)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == len(labels)
    for c in range(10):  # every class spread evenly over the folds
        per_fold = np.bincount(folds[labels == c], minlength=5)
        assert per_fold.max() - per_fold.min() <= 1
    assert np.array_equal(folds, fold_assignment(labels, 5, seed=0))
    assert not np.array_equal(folds, fold_assignment(labels, 5, seed=1))


def test_every_training_image_gets_one_row_from_a_model_that_never_trained_on_it(cv_run, data_dir):
    run_dir, seen = cv_run
    dataset = load_dataset(SUBSET, data_dir)
    probs, labels, folds = load_oof(run_dir)
    assert probs.shape == (1500, 10) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)  # every row filled, once
    assert np.array_equal(labels, dataset.train_labels.numpy())  # MNIST's own order
    assert np.array_equal(folds, fold_assignment(labels, 3, CONFIG.seed))
    # Fold 1's rows are what a model trained on folds 0 and 2 alone predicts for them: retrain it and compare.
    part = fold_dataset(dataset, folds, 1)
    assert not set(np.flatnonzero(folds == 1)) & set(np.flatnonzero(folds != 1))
    fold_config = dataclasses.replace(CONFIG, folds=0)
    net = [e for e in train(fold_config, part) if e["type"] == "finished"][0]["net"]
    mean, std = normalization(CONFIG.normalize)
    again, _ = predict_with_features(net, part.test_images, mean, std)
    np.testing.assert_allclose(probs[folds == 1], again.numpy(), atol=1e-4)
    embeddings = load_embeddings(run_dir)
    assert embeddings["train"].shape == (1500, 128) and embeddings["train"].dtype == np.float16
    # Both splits' features come from the final model, one feature space (K fold models have K of them, and a
    # map or a nearest-neighbour search across them would only find the folds)
    model, meta = runs.load_checkpoint(run_dir / "model.pt")  # the final model, on the whole training set
    _, train_features = predict_with_features(model, dataset.train_images, meta["mean"], meta["std"])
    np.testing.assert_allclose(embeddings["train"].astype(np.float32), train_features.float().numpy(),
                               atol=2e-2, rtol=1e-2)
    _, test_features = predict_with_features(model, dataset.test_images, meta["mean"], meta["std"])
    assert embeddings["test"].shape == (300, 128)
    assert np.array_equal(embeddings["test"], test_features.numpy())
    # the fold events say how well each fold did on the images it held out
    fold_events = [e for e in seen if e["type"] == "fold"]
    assert [e["fold"] for e in fold_events] == [0, 1, 2]
    for e in fold_events:
        held = folds == e["fold"]
        assert e["images"] == held.sum()
        assert e["held_out_accuracy"] == pytest.approx((probs[held].argmax(1) == labels[held]).mean())
    assert runs.read_run(run_dir).test_accuracy > 0.6  # the final model learned


def test_progress_covers_the_folds_and_the_final_model(cv_run):
    run_dir, _ = cv_run
    events = runs.read_events(run_dir)
    assert {e["fold"] for e in events if e["type"] == "fold_batch"} == {0, 1, 2}
    assert all({"epoch", "batch", "batches", "folds"} <= e.keys() for e in events if e["type"] == "fold_batch")
    p, seen = summarize([], epochs=1, folds=3), []
    for e in events:
        p.add(e)
        seen.append((p.phase_text, p.overall, p.elapsed))
    overall = [s[1] for s in seen]
    assert overall == sorted(overall) and overall[-1] == 1.0
    phases = [s[0] for s in seen]
    assert "Fold 2/3" in phases and phases[-1] == "Final model"
    # three fold models on 2/3 of the data, then one on all: the folds are 2/3 of the whole run's work
    at_final = phases.index("Final model")
    assert seen[at_final - 1][1] == pytest.approx(2 / 3)
    assert [r["fold"] for r in p.fold_rows] == [0, 1, 2] and len(p.epoch_rows) == 1
    elapsed = [s[2] for s in seen]
    assert elapsed == sorted(elapsed)  # one clock over the whole run


def test_cancel_inside_a_fold_stops_the_run(data_dir, tmp_path):
    config = dataclasses.replace(CONFIG, epochs=20, folds=5)
    run_dir = runs.create_run(tmp_path, config)

    def cancel_in_fold_two(event: dict) -> None:
        if event["type"] == "fold_batch" and event["fold"] == 1 and event["batch"] >= 3:
            runs.request_cancel(run_dir)  # the dashboard's Cancel button: the cancel file

    status = run_training(config, run_dir, data_dir, on_event=cancel_in_fold_two)
    assert status["status"] == "cancelled"
    last = runs.read_events(run_dir)[-1]
    assert last["type"] == "cancelled" and last["fold"] == 1 and last["epoch"] == 0
    assert not any(e["type"] == "batch" for e in runs.read_events(run_dir))  # the final model never started
    assert not {"oof_probs.pt", "embeddings.pt", "model.pt"} & {p.name for p in run_dir.iterdir()}


@pytest.mark.parametrize("k", [1, 11, -2, "5", True])
def test_k_out_of_range_is_refused(k):
    with pytest.raises(ConfigError, match=r"folds: must be 0 \(no cross-validation\) or an integer from 2 to 10"):
        TrainConfig(folds=k).validate()


def test_cli_refuses_k_out_of_range_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mnist_core.train", "--data", "mnist-sample", "--folds", "11",
                           "--runs-dir", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["error: folds: must be 0 (no cross-validation) or an integer "
                                                "from 2 to 10, got 11"]
    assert not list(tmp_path.iterdir())


def test_too_few_images_for_k_folds_names_both_numbers(data_dir, tmp_path):
    with pytest.raises(ConfigError, match="folds: 5 folds need at least 5 training images of every class, "
                                          r"but class 0 has 3 \(of 30 training images\)"):
        fold_assignment(np.repeat(np.arange(10), 3), 5, seed=0)
    with pytest.raises(ConfigError, match="folds: 4 folds need at least 4 training images, the training set has 3"):
        fold_assignment(np.array([0, 1, 1]), 4, seed=0)
    done = subprocess.run([sys.executable, "-m", "mnist_core.train", "--data", TINY, "--recipe", "fast",
                           "--folds", "5", "--device", "cpu", "--data-dir", str(data_dir), "--runs-dir",
                           str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "5 folds need at least 5 training images of every class, but class 0 has 3" in done.stderr
    assert fold_assignment(np.repeat(np.arange(10), 3), 3, seed=0).shape == (30,)  # 3 folds fit


@pytest.mark.slow
def test_two_torchrun_processes_give_the_single_process_folds(cv_run, data_dir, tmp_path):
    single_dir, _ = cv_run
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
               "-m", "mnist_core.train", "--data", SUBSET, "--recipe", "fast", "--epochs", "1", "--folds", "3",
               "--architecture", "fast", "--lr", "5e-3", "--label-smoothing", "0", "--precision", "float32",
               "--seed", str(CONFIG.seed), "--device", "cpu", "--data-dir", str(data_dir),
               "--runs-dir", str(tmp_path)]
    done = subprocess.run(command, cwd=REPO, env={**os.environ, TIMEOUT_ENV: "60"}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(line.split(":")[0] for line in done.stdout.splitlines() if line.startswith("Fold")) == \
        ["Fold 1/3", "Fold 2/3", "Fold 3/3"]  # rank 0 alone prints, one line per fold, the other rank's too
    (run_dir,) = list(tmp_path.iterdir())
    probs, labels, folds = load_oof(run_dir)
    single_probs, single_labels, single_folds = load_oof(single_dir)
    assert np.array_equal(folds, single_folds) and np.array_equal(labels, single_labels)
    # each fold trained alone on one thread with the same seed, whichever process trained it
    np.testing.assert_allclose(probs, single_probs, atol=1e-4)
    assert load_embeddings(run_dir)["train"].shape == (1500, 128)
    fold_events = [e for e in runs.read_events(run_dir) if e["type"] == "fold"]
    assert sorted(e["fold"] for e in fold_events) == [0, 1, 2]  # written once, by rank 0


@pytest.mark.slow
def test_cancel_inside_a_fold_of_a_two_process_dashboard_run(data_dir, tmp_path):
    import time

    from mnist_core.launch import start_worker

    config = dataclasses.replace(CONFIG, epochs=30, folds=5, workers=2)
    run_dir, deadline = start_worker(config, tmp_path, data_dir), time.monotonic() + 240
    while not any(e["type"] == "fold_batch" for e in runs.read_events(run_dir)) and time.monotonic() < deadline:
        time.sleep(0.3)
    assert runs.request_cancel(run_dir), runs.read_run(run_dir).error
    asked = time.monotonic()
    while runs.read_run(run_dir).status == "running" and time.monotonic() < deadline:
        time.sleep(0.2)
    info = runs.read_run(run_dir)
    assert info.status == "cancelled", info.error
    assert time.monotonic() - asked < 20  # both ranks read the cancel file and stop in their fold
    assert runs.read_events(run_dir)[-1]["type"] == "cancelled"
    assert not {"oof_probs.pt", "model.pt"} & {p.name for p in run_dir.iterdir()}
