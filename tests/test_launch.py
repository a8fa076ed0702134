"""run_training end to end on `mnist-sample`, and the dashboard's detached worker: finish, cancel, crash.

    python -m pytest -q tests/test_launch.py
"""
from __future__ import annotations

import itertools
import os
import signal
import time

import pytest
import torch
from waiting import wait_for

from mnist_core import files, jobs, launch, runs
from mnist_core.config import TrainConfig
from mnist_core.predict import evaluate, predict_proba

QUICK = TrainConfig(data="mnist-sample", epochs=1, batch_size=32, device="cpu")  # 125 batches, 1-3 s
LONG = TrainConfig(data="mnist-sample", epochs=50, batch_size=100, device="cpu")  # a minute: stopped by the tests


def _assert_complete_run(run_dir, config: TrainConfig, mnist_sample):
    """config.json, finished status.json, metrics.jsonl, a checkpoint and probs.npz that agree with each other."""
    assert files.read_json(run_dir / "config.json") == config.to_dict()
    info = runs.read_run(run_dir)
    assert info.status == "finished" and info.error is None and info.duration > 0
    events = runs.read_events(run_dir)
    kinds = [e["type"] for e in events]
    assert kinds.count("epoch") == config.epochs and kinds[-1] == "finished" and "batch" in kinds
    assert all("net" not in e and "test_probs" not in e for e in events)  # tensors stay out of the log
    probs, labels = (torch.from_numpy(a) for a in runs.load_probs(run_dir))
    assert probs.shape == (1000, 10) and torch.equal(labels, mnist_sample.test_labels)
    model, meta = runs.load_checkpoint(run_dir / "model.pt")
    assert meta["architecture"] == config.architecture and meta["class_names"] == mnist_sample.class_names
    assert meta["data"] == "mnist-sample" and meta["config"] == config.to_dict()
    # The cached probabilities are exactly what the saved model predicts.
    assert torch.allclose(predict_proba(model, mnist_sample.test_images, meta["mean"], meta["std"]), probs, atol=1e-6)
    accuracy = evaluate(probs, labels)["accuracy"]
    assert info.test_accuracy == pytest.approx(accuracy) == pytest.approx(events[-1]["test_accuracy"])
    assert accuracy > 0.8  # one epoch on 4,000 real digits: about 0.88


def test_run_training_writes_a_complete_run_folder(runs_dir, tmp_path, mnist_sample):
    run_dir = runs.create_run(runs_dir, QUICK)
    seen = []
    status = launch.run_training(QUICK, run_dir, tmp_path, on_event=seen.append)
    assert status["status"] == "finished" and status["pid"] == os.getpid()
    written = runs.read_events(run_dir)
    assert written[:2] == [{"type": "stage", "stage": "loading data"}, {"type": "stage", "stage": "training"}]
    # on_event sees every trainer event; the file gets each of them but the batch events BatchThrottle skips
    assert [e["type"] for e in seen if e["type"] != "batch"] == [e["type"] for e in written[2:] if e["type"] != "batch"]
    batches = [e for e in written if e["type"] == "batch"]
    assert batches == [e for e in seen if e["type"] == "batch" and e in batches] and batches[-1]["batch"] == 125
    assert all(b["elapsed"] - a["elapsed"] >= launch.BATCH_EVENT_EVERY_S for a, b in itertools.pairwise(batches[:-1]))
    _assert_complete_run(run_dir, QUICK, mnist_sample)


def test_batch_events_are_written_at_most_every_0_4_s_and_at_each_epoch_end():
    keep = launch.BatchThrottle(every_s=0.4).keep
    events = [{"type": "batch", "epoch": 0, "batch": b, "batches": 10, "elapsed": 0.1 * b} for b in range(1, 11)]
    events.insert(5, {"type": "epoch", "epoch": 0})  # never skipped, whenever it comes
    kept = [(e["type"], e.get("batch")) for e in events if keep(e)]
    assert kept == [("batch", 1), ("batch", 5), ("epoch", None), ("batch", 9), ("batch", 10)]


def test_run_training_records_a_failure(runs_dir, tmp_path):
    config = TrainConfig(data="no-such-data", epochs=1)
    run_dir = runs.create_run(runs_dir, config)
    status = launch.run_training(config, run_dir, tmp_path)
    assert status["status"] == "failed"
    assert status["error"].startswith("ConfigError: data: unknown data source 'no-such-data'; allowed: mnist,")
    assert runs.read_events(run_dir) == [{"type": "stage", "stage": "loading data"},
                                         {"type": "failed", "error": status["error"]}]
    assert not (run_dir / "model.pt").exists()


def test_run_training_stops_on_a_cancel_request(runs_dir, tmp_path):
    run_dir = runs.create_run(runs_dir, QUICK)
    runs.request_cancel(run_dir)
    status = launch.run_training(QUICK, run_dir, tmp_path)
    assert status["status"] == "cancelled"
    assert runs.read_events(run_dir)[-1] == {"type": "cancelled", "epoch": 0, "batch": 1}


def test_worker_with_an_unreadable_config_marks_the_run_failed(runs_dir, tmp_path):
    run_dir = runs.create_run(runs_dir, QUICK)
    (run_dir / "config.json").write_text('{"data": "mnist-sample", "epochs": 1, "colour": "red"}')
    assert launch.main([str(run_dir), str(tmp_path)]) == 1
    status = files.read_json(run_dir / "status.json")
    assert status["status"] == "failed" and status["error"].startswith("bad config.json: colour: unknown field colour;")
    info = runs.read_run(run_dir)  # listed as broken, deletable, skipped by the pages
    assert info.status == runs.BROKEN and info.error.startswith("broken run folder: config.json is not a training")


def test_a_worker_that_cannot_start_leaves_a_failed_run(tmp_path, monkeypatch):
    def no_processes(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(jobs.subprocess, "Popen", no_processes)
    run_dir = launch.start_worker(QUICK, tmp_path / "runs", tmp_path / "data")  # the page then shows the reason
    [info] = runs.list_runs(tmp_path / "runs")
    assert info.path == run_dir
    assert info.status == "failed"
    assert info.error == "could not start the training worker: [Errno 11] Resource temporarily unavailable"


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    """Three detached workers started together (their start-up dominates): one to finish, one to cancel,
    one to kill. Any still alive at the end are killed."""
    root = tmp_path_factory.mktemp("workers")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(jobs.MAX_JOBS_ENV, "3")
        started = {name: launch.start_worker(config, root / "runs", root / "data")
                   for name, config in (("finish", QUICK), ("cancel", LONG), ("crash", LONG))}
    yield started
    for run_dir in started.values():
        pid = files.read_json(run_dir / "status.json").get("pid")
        if runs.read_run(run_dir).status == "running" and pid != os.getpid():
            os.kill(pid, signal.SIGKILL)


def _first_batch_logged(run_dir) -> bool:
    return any(e["type"] == "batch" for e in runs.read_events(run_dir))


def test_worker_trains_in_a_detached_process(workers, mnist_sample):
    run_dir = workers["finish"]
    wait_for(lambda: runs.read_run(run_dir).status != "running", 90, "the worker to finish")
    _assert_complete_run(run_dir, QUICK, mnist_sample)
    assert files.read_json(run_dir / "status.json")["pid"] != os.getpid()
    assert (run_dir / "worker.log").is_file()


def test_cancel_request_stops_the_worker_within_seconds(workers):
    run_dir = workers["cancel"]
    wait_for(lambda: _first_batch_logged(run_dir), 90, "the worker's first batch")
    runs.request_cancel(run_dir)
    asked = time.monotonic()
    wait_for(lambda: runs.read_run(run_dir).status != "running", 10, "the worker to stop")
    assert time.monotonic() - asked < 5
    info = runs.read_run(run_dir)
    assert info.status == "cancelled"
    assert runs.read_events(run_dir)[-1]["type"] == "cancelled"
    assert not (run_dir / "model.pt").exists()


def test_a_crashed_worker_is_marked_failed(workers):
    run_dir = workers["crash"]
    wait_for(lambda: _first_batch_logged(run_dir), 90, "the worker's first batch")
    pid = files.read_json(run_dir / "status.json")["pid"]
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)
    info = wait_for(lambda: (r := runs.read_run(run_dir)).status != "running" and r, 10, "the run to be marked")
    assert info.status == "failed" and info.error == "the training worker stopped unexpectedly"
