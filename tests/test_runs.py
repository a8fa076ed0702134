"""The run store: run folders, atomic writes, worker liveness, metrics lines, checkpoints and cached probabilities.

    python -m pytest -q tests/test_runs.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
import torch

from mnist_core import files, runs
from mnist_core.config import TrainConfig
from mnist_core.nets import make_net
from mnist_core.predict import predict_proba
from mnist_core.runs import RunStoreError

META = {"architecture": "notebook", "class_names": [str(d) for d in range(10)], "mean": 0.1307, "std": 0.3081}


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)  # exited and reaped: no such process any more


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_create_list_newest_first_and_delete(runs_dir):
    created = [runs.create_run(runs_dir, TrainConfig(data="mnist-sample", seed=i)) for i in range(4)]
    (runs_dir / "not-a-run").mkdir()  # stray folders are skipped
    listed = runs.list_runs(runs_dir)
    assert [r.path for r in listed] == created[::-1]  # same second: created_ns decides
    assert [r.config["seed"] for r in listed] == [3, 2, 1, 0]
    assert {r.status for r in listed} == {"running"}  # this process is their (alive) pid
    assert runs.list_runs() == listed  # MNIST_RUNS_DIR
    runs.set_status(created[1], "finished", test_accuracy=0.9)
    runs.delete_run(created[1])
    assert not created[1].exists()
    assert [r.path for r in runs.list_runs(runs_dir)] == [created[3], created[2], created[0]]


def test_delete_refuses_a_live_run_and_non_runs(runs_dir):
    run_dir = runs.create_run(runs_dir, TrainConfig())
    with pytest.raises(RunStoreError, match=r"is still training: cancel it first"):
        runs.delete_run(run_dir)
    (runs_dir / "other").mkdir()
    with pytest.raises(RunStoreError, match=r"is not a run folder"):
        runs.delete_run(runs_dir / "other")
    assert run_dir.exists() and (runs_dir / "other").exists()


def test_list_shows_unreadable_runs_as_broken_last(runs_dir):
    good = runs.create_run(runs_dir, TrainConfig())
    broken = runs.create_run(runs_dir, TrainConfig())
    (broken / "status.json").write_text('{"status": "runn')  # torn by hand; our writes are atomic
    assert [(r.path, r.status) for r in runs.list_runs(runs_dir)] == [(good, "running"), (broken, runs.BROKEN)]
    info = runs.read_run(broken)
    assert info.error == "broken run folder: status.json is not valid JSON (JSONDecodeError at byte 11)"


def _fail_fsync(fd):
    raise OSError(28, "No space left on device")


def _fail_replace(src, dst):
    raise OSError(18, "Invalid cross-device link")


def _interrupt_fsync(fd):
    raise KeyboardInterrupt


@pytest.mark.parametrize("name, failure, error", [("fsync", _fail_fsync, OSError),
                                                   ("replace", _fail_replace, OSError),
                                                   ("fsync", _interrupt_fsync, KeyboardInterrupt)])
def test_failed_atomic_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch, name, failure, error):
    target = tmp_path / "status.json"
    files.write_json_atomic(target, {"status": "running"})
    monkeypatch.setattr(files.os, name, failure)
    with pytest.raises(error):
        files.write_json_atomic(target, {"status": "finished", "padding": "x" * 100_000})
    assert json.loads(target.read_text()) == {"status": "running"}
    assert _leftovers(tmp_path) == []


def test_failed_checkpoint_write_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(files.os, "replace", _fail_replace)
    with pytest.raises(OSError):
        runs.save_checkpoint(tmp_path / "model.pt", make_net("notebook"), META)
    assert list(tmp_path.iterdir()) == []


def test_run_of_a_dead_worker_becomes_failed(runs_dir):
    run_dir = runs.create_run(runs_dir, TrainConfig())
    runs.set_status(run_dir, "running", pid=_dead_pid())
    before = (run_dir / "status.json").read_bytes()
    info = runs.read_run(run_dir)
    assert info.status == "failed" and info.error == "the training worker stopped unexpectedly"
    assert (run_dir / "status.json").read_bytes() == before  # reading never writes


def test_status_updates_can_be_conditional(runs_dir):
    run_dir = runs.create_run(runs_dir, TrainConfig())
    runs.set_status(run_dir, "finished", test_accuracy=0.95)
    # A late writer that still believes the run is running must not undo "finished".
    after = runs.set_status(run_dir, "running", expect={"status": "running"}, pid=_dead_pid())
    assert after["status"] == "finished" and after["pid"] == os.getpid()
    assert runs.read_run(run_dir).status == "finished"
    with pytest.raises(ValueError, match=r"unknown status 'done'"):
        runs.set_status(run_dir, "done")


def test_concurrent_status_updates_are_not_lost(runs_dir):
    """The worker and the dashboard both update status.json; the run folder's lock serialises them."""
    run_dir = runs.create_run(runs_dir, TrainConfig())

    def update(writer: int) -> None:
        for i in range(5):
            runs.set_status(run_dir, "running", **{f"w{writer}-{i}": i})

    threads = [threading.Thread(target=update, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status = files.read_json(run_dir / "status.json")
    assert sorted(k for k in status if k.startswith("w")) == sorted(f"w{w}-{i}" for w in range(4) for i in range(5))


def test_half_written_metrics_line_is_ignored_and_later_events_survive(runs_dir):
    run_dir = runs.create_run(runs_dir, TrainConfig())
    runs.append_event(run_dir, {"type": "batch", "loss": 2.3, "net": make_net("notebook")})  # net dropped
    with open(run_dir / "metrics.jsonl", "a") as f:
        f.write('{"type": "epoch", "train_lo')  # the writer died mid-line
    assert runs.read_events(run_dir) == [{"type": "batch", "loss": 2.3}]
    runs.append_event(run_dir, {"type": "failed", "error": "killed"})
    assert runs.read_events(run_dir) == [{"type": "batch", "loss": 2.3}, {"type": "failed", "error": "killed"}]
    assert runs.read_events(runs_dir / "missing") == []


def test_checkpoint_round_trip_gives_identical_predictions(tmp_path, mnist_subset):
    torch.manual_seed(0)
    net = make_net("notebook")
    images = mnist_subset.test_images[:200]
    before = predict_proba(net, images, META["mean"], META["std"])
    runs.save_checkpoint(tmp_path / "model.pt", net, {**META, "test_accuracy": 0.5})
    loaded, meta = runs.load_checkpoint(tmp_path / "model.pt")
    assert meta == {**META, "test_accuracy": 0.5}
    assert not loaded.training
    assert torch.equal(predict_proba(loaded, images, meta["mean"], meta["std"]), before)
    assert _leftovers(tmp_path) == []


class _Payload:
    """Unpickling this creates a folder: proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_checkpoint_with_arbitrary_objects_is_never_unpickled(tmp_path):
    blob = lambda marker: {"format": 1, "meta": META, "state_dict": make_net("notebook").state_dict(),
                           "extra": _Payload(marker)}
    torch.save(blob(tmp_path / "control"), tmp_path / "control.pt")
    torch.load(tmp_path / "control.pt", weights_only=False)  # the oracle: a plain unpickle runs the payload
    assert (tmp_path / "control").is_dir()
    torch.save(blob(tmp_path / "pwned"), tmp_path / "evil.pt")
    with pytest.raises(RunStoreError, match=r"^Not an MNIST Lab model file: .*nothing in it was run") as info:
        runs.load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()
    assert "weights_only" not in str(info.value)  # never advise the unsafe load torch's own message suggests


def _save(path, blob):
    torch.save(blob, path)
    return path


BAD_CHECKPOINTS = {
    "another architecture": (lambda: {"meta": META, "state_dict": torch.nn.Linear(784, 10).state_dict()},
                             r"do not fit architecture 'notebook' with 10 classes: missing conv1.weight, conv1.bias, "
                             r".*; 2 unexpected weights\.$"),
    "wrong class count": (lambda: {"meta": {**META, "class_names": list("abcde")},
                                   "state_dict": make_net("notebook", 10).state_dict()},
                          r"do not fit architecture 'notebook' with 5 classes: out.weight is shape \(10, 60\), "
                          r"expected torch.float32 of shape \(5, 60\)"),
    "unknown architecture": (lambda: {"meta": {**META, "architecture": "resnet"}, "state_dict": {}},
                             r"Checkpoint architecture not supported: "
                             r"MNIST Lab has notebook, fast, best, wide, deep\.$"),
    "no class names": (lambda: {"meta": {**META, "class_names": []}, "state_dict": {}},
                       r"Checkpoint metadata has no class_names"),
    "no normalisation": (lambda: {"meta": {**META, "std": 0.0}, "state_dict": {}},
                         r"no usable normalisation \(mean and std, std > 0\)"),
    "a bare tensor": (lambda: torch.zeros(3), r"^Not an MNIST Lab model file: a checkpoint is a dict with 'meta' and"),
    "a state_dict only": (lambda: make_net("notebook").state_dict(), r"^Not an MNIST Lab model file"),
}


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_bad_checkpoint_gives_a_clear_run_store_error(tmp_path, case):
    make_blob, message = BAD_CHECKPOINTS[case]
    with pytest.raises(RunStoreError, match=message):
        runs.load_checkpoint(_save(tmp_path / "model.pt", make_blob()))


@pytest.mark.parametrize("content", [b"", b"garbage" * 100, b"PK\x03\x04not really a zip"])
def test_garbage_bytes_are_not_a_checkpoint(tmp_path, content):
    (tmp_path / "model.pt").write_bytes(content)
    with pytest.raises(RunStoreError, match=r"^Not an MNIST Lab model file: it is not a PyTorch checkpoint"):
        runs.load_checkpoint(tmp_path / "model.pt")


def test_missing_checkpoint(tmp_path):
    with pytest.raises(RunStoreError, match=r"^No checkpoint at .*model.pt$"):
        runs.load_checkpoint(tmp_path / "model.pt")


def test_probs_round_trip_and_errors(tmp_path):
    probs = torch.softmax(torch.randn(7, 10, dtype=torch.float64), dim=1)
    runs.save_probs(tmp_path, probs, torch.arange(7, dtype=torch.int32))
    loaded, labels = runs.load_probs(tmp_path)
    assert loaded.dtype == np.float32 and np.allclose(loaded, probs.float().numpy())
    assert labels.dtype == np.int64 and labels.tolist() == list(range(7))
    assert (tmp_path / "probs.npz").is_file() and not (tmp_path / "probs.pt").exists()
    (tmp_path / "probs.npz").unlink()  # a run from before the .npz files: its probs.pt is read, through torch
    with pytest.raises(RunStoreError, match=r"has no test probabilities \(did it finish\?\)"):
        runs.load_probs(tmp_path / "elsewhere")
    torch.save({"probs": torch.rand(7, 10), "labels": torch.arange(8)}, tmp_path / "probs.pt")
    with pytest.raises(RunStoreError, match=r"probs.pt has the wrong shape: probabilities \(7, 10\) and labels \(8,\)"):
        runs.load_probs(tmp_path)
    torch.save({"probs": torch.rand(7, 3), "labels": torch.arange(7)}, tmp_path / "probs.pt")
    with pytest.raises(RunStoreError, match=r"probs.pt has labels outside 0..2$"):
        runs.load_probs(tmp_path)
    torch.save({"probs": [0.5]}, tmp_path / "probs.pt")
    with pytest.raises(RunStoreError, match=r"is not a probabilities file"):
        runs.load_probs(tmp_path)
    (tmp_path / "probs.pt").write_bytes(b"junk")
    with pytest.raises(RunStoreError, match=r"probs.pt of run .* is unreadable \("):
        runs.load_probs(tmp_path)
