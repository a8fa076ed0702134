"""DistributedDataParallel training: sharding, gathering, 2 gloo processes vs 1, a rank that dies.

    python -m pytest -q tests/test_distributed.py      # about a minute: three tests start 2-process jobs

The multi-process tests run torchrun (python -m torch.distributed.run --standalone, gloo on 127.0.0.1) on
the first 4,001/999 real MNIST digits (odd counts: the padding and the trimming are exercised), saved as an
imported dataset in a temporary data dir.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_core import files, runs
from mnist_core.config import ConfigError, TrainConfig
from mnist_core.data import DIGITS, load_dataset
from mnist_core.distributed import FAULT_ENV, FAULT_EXIT_CODE, LOCAL, TIMEOUT_ENV, DistContext, max_workers
from mnist_core.launch import run_training, start_worker
from mnist_core.nets import make_net
from mnist_core.predict import predict_proba
from mnist_core.supervise import describe_failures, record_outcome

REPO = Path(__file__).resolve().parent.parent
SUBSET = "mnist-4k"
RUN_FILES = {"config.json", "status.json", "metrics.jsonl", "model.pt", "probs.npz", "epoch_probs.npz"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, mnist_full) -> Path:
    """A data dir holding the first 4,001 train / 999 test real MNIST digits as the imported dataset SUBSET."""
    full = mnist_full
    root = tmp_path_factory.mktemp("data")
    folder = root / "datasets" / SUBSET
    folder.mkdir(parents=True)
    np.savez(folder / "data.npz", train_images=full.train_images[:4001].numpy(),
             train_labels=full.train_labels[:4001].numpy(), test_images=full.test_images[:999].numpy(),
             test_labels=full.test_labels[:999].numpy())
    (folder / "manifest.json").write_text(json.dumps({"class_names": DIGITS}))
    return root


def torchrun(args: list[str], env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    full_env = {**os.environ, TIMEOUT_ENV: "60", **(env or {})}
    return subprocess.run(command, cwd=REPO, env=full_env, capture_output=True, text=True, timeout=timeout)


def only_run(runs_dir: Path) -> Path:
    folders = list(runs_dir.iterdir())
    assert len(folders) == 1, f"expected one run folder (rank 0 alone creates it), found {folders}"
    return folders[0]


def events_of(run_dir: Path, kind: str) -> list[dict]:
    return [e for e in runs.read_events(run_dir) if e["type"] == kind]


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_single_process_context_changes_nothing():
    model, order, value, stop = make_net("notebook"), torch.randperm(10), torch.tensor(2.5), lambda: True
    assert LOCAL.wrap(model) is model and LOCAL.unwrap(model) is model
    assert LOCAL.shard(order) is order and LOCAL.mean(value) is value and LOCAL.stop_together(stop) is stop
    assert (LOCAL.shard_size(4000), LOCAL.local_batch_size(64), LOCAL.is_main, LOCAL.enabled) == (4000, 64, True, False)


@pytest.mark.parametrize("n, world", [(4000, 2), (11, 2), (10, 3), (7, 4)])
def test_shards_deal_out_the_permutation_with_equal_steps(n, world):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(n))
    ranks = [DistContext(rank=r, world_size=world) for r in range(world)]
    shards = [ctx.shard(order) for ctx in ranks]
    assert {len(s) for s in shards} == {ranks[0].shard_size(n)}  # same steps on every rank
    dealt = torch.cat(shards)
    assert set(dealt.tolist()) == set(order.tolist())  # every image, every epoch
    assert len(dealt) - n == (-n) % world  # at most world-1 repeats of padding
    assert torch.equal(torch.stack([s[:n // world] for s in shards], 1).flatten(), order[:n // world * world])


def test_local_batches_of_all_ranks_make_up_the_single_process_batch():
    order, batch = torch.randperm(4000), 64
    ranks = [DistContext(rank=r, world_size=2) for r in range(2)]
    local = ranks[0].local_batch_size(batch)
    for step in (0, 1, 62):
        together = {i for ctx in ranks for i in ctx.shard(order)[step * local:(step + 1) * local].tolist()}
        assert together == set(order[step * batch:(step + 1) * batch].tolist())


def test_start_worker_refuses_more_processes_than_cores(tmp_path):
    config = TrainConfig(data="mnist-sample", device="cpu", workers=max_workers("cpu") + 1)
    with pytest.raises(ConfigError, match=f"workers: at most {max_workers('cpu')} training processes"):
        start_worker(config, tmp_path / "runs", tmp_path)
    assert not (tmp_path / "runs").exists()


def test_failure_message_names_the_cause_before_the_collateral():
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

    failures = {0: ProcessFailure(local_rank=0, pid=10, exitcode=-15, error_file=""),
                1: ProcessFailure(local_rank=1, pid=11, exitcode=3, error_file="")}
    assert describe_failures(failures, 2) == ("training process rank 1 of 2 exited with code 3; "
                                              "rank 0 of 2 was stopped by SIGTERM")


def test_supervisor_outcome_keeps_rank0_reason_and_adds_the_dead_rank(tmp_path):
    from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

    run_dir = runs.create_run(tmp_path, TrainConfig(workers=2))
    (run_dir / ".model.pt.abc.tmp").write_bytes(b"half")
    runs.set_status(run_dir, "failed", error="rank 0 of 2: RuntimeError: Connection reset by peer")
    failures = {0: ProcessFailure(0, 10, 1, ""), 1: ProcessFailure(1, 11, 3, "")}
    assert record_outcome(run_dir, failures, 2) == 1
    status = files.read_json(run_dir / "status.json")
    assert status["error"] == ("training process rank 1 of 2 exited with code 3; "
                               "rank 0 of 2: RuntimeError: Connection reset by peer")
    assert not list(run_dir.glob(".*.tmp"))
    finished = runs.create_run(tmp_path, TrainConfig(workers=2))
    runs.set_status(finished, "finished", test_accuracy=0.9)
    assert record_outcome(finished, failures, 2) == 0 and runs.read_run(finished).status == "finished"


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(data_dir, tmp_path):
    config = TrainConfig(data=SUBSET, epochs=1, device="cpu")
    single = runs.create_run(tmp_path / "one", config)
    assert run_training(config, single, data_dir)["status"] == "finished"

    done = torchrun(["-m", "mnist_core.train", "--data", SUBSET, "--epochs", "1", "--device", "cpu",
                     "--data-dir", str(data_dir), "--runs-dir", str(tmp_path / "two")])
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("test accuracy:") == 1  # rank 0 alone prints
    run_dir = only_run(tmp_path / "two")
    assert {p.name for p in run_dir.iterdir()} == RUN_FILES  # complete, no temp files
    info = runs.read_run(run_dir)
    assert info.status == "finished" and info.config["workers"] == 2
    assert len(events_of(run_dir, "epoch")) == 1 and len(events_of(run_dir, "finished")) == 1  # written once

    one_epoch, two_epoch = events_of(single, "epoch")[0], events_of(run_dir, "epoch")[0]
    assert one_epoch["test_accuracy"] > 0.6  # it learned (chance is 0.1): not a comparison of two failures
    # The global batches are the same (2 x 32 = 64 images; the last one has 1 repeat), so the runs agree up to
    # float rounding.
    assert abs(two_epoch["test_accuracy"] - one_epoch["test_accuracy"]) <= 0.01
    assert two_epoch["train_loss"] == pytest.approx(one_epoch["train_loss"], rel=0.02)

    test = load_dataset(SUBSET, data_dir)
    probs, labels = (torch.from_numpy(a) for a in runs.load_probs(run_dir))
    model, meta = runs.load_checkpoint(run_dir / "model.pt")
    assert torch.equal(labels, test.test_labels)  # gathered back into test-set order
    torch.testing.assert_close(probs, predict_proba(model, test.test_images, meta["mean"], meta["std"]),
                               atol=1e-5, rtol=1e-4)
    assert info.test_accuracy == pytest.approx(float((probs.argmax(1) == labels).float().mean()))


@pytest.mark.slow
def test_dead_rank_fails_the_dashboard_run_with_the_reason(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(FAULT_ENV, "1:5")  # rank 1 exits at its 5th step, as if killed
    monkeypatch.setenv(TIMEOUT_ENV, "30")
    start = time.monotonic()
    run_dir = start_worker(TrainConfig(data=SUBSET, epochs=2, device="cpu", workers=2), tmp_path, data_dir)
    supervisor = files.read_json(run_dir / "status.json")["pid"]
    while process_alive(supervisor) and time.monotonic() - start < 240:
        time.sleep(0.5)
    assert not process_alive(supervisor), "the job did not stop after rank 1 died"
    status = files.read_json(run_dir / "status.json")
    assert status["status"] == "failed"
    assert f"rank 1 of 2 exited with code {FAULT_EXIT_CODE}" in status["error"]
    assert runs.read_events(run_dir)[-1] == {"type": "failed", "error": status["error"]}
    left = {p.name for p in run_dir.iterdir()}
    assert left == {"config.json", "status.json", "metrics.jsonl", "worker.log"}  # no checkpoint, no temp file


def _training_on_two_processes(data_dir: Path, tmp_path: Path) -> tuple[Path, int, float]:
    """A long 2-process dashboard run that has logged its first batch: (run dir, supervisor pid, deadline)."""
    run_dir = start_worker(TrainConfig(data=SUBSET, epochs=50, device="cpu", workers=2), tmp_path, data_dir)
    supervisor, deadline = files.read_json(run_dir / "status.json")["pid"], time.monotonic() + 240
    while not events_of(run_dir, "batch") and time.monotonic() < deadline:
        time.sleep(0.3)
    return run_dir, supervisor, deadline


@pytest.mark.slow
def test_dashboard_run_on_two_processes_shows_and_cancels_like_any_run(data_dir, tmp_path):
    run_dir, supervisor, deadline = _training_on_two_processes(data_dir, tmp_path)
    assert runs.read_run(run_dir).status == "running" and process_alive(supervisor)
    runs.request_cancel(run_dir)
    while process_alive(supervisor) and time.monotonic() < deadline:
        time.sleep(0.3)
    info = runs.read_run(run_dir)
    assert info.status == "cancelled" and runs.read_events(run_dir)[-1]["type"] == "cancelled"
    assert not (run_dir / "model.pt").exists()


def _children(pid: int) -> list[int]:
    return [int(c) for t in Path(f"/proc/{pid}/task").iterdir() for c in (t / "children").read_text().split()]


@pytest.mark.slow
def test_a_sigkilled_supervisor_takes_its_ranks_and_the_run_stays_failed(data_dir, tmp_path):
    run_dir, supervisor, _ = _training_on_two_processes(data_dir, tmp_path)
    ranks = [pid for pid in _children(supervisor) if b"mnist_core.launch" in Path(f"/proc/{pid}/cmdline").read_bytes()]
    assert len(ranks) == 2 and all(process_alive(pid) for pid in ranks)
    os.kill(supervisor, signal.SIGKILL)
    stop = time.monotonic() + 10
    while any(process_alive(pid) for pid in ranks) and time.monotonic() < stop:
        time.sleep(0.1)
    assert not any(process_alive(pid) for pid in ranks), "the ranks trained on without their supervisor"
    info = runs.read_run(run_dir)
    assert info.status == "failed" and info.error == runs.DEAD_WORKER
    batches = len(events_of(run_dir, "batch"))
    time.sleep(3)  # nothing trains on, nothing flips the run to finished
    assert len(events_of(run_dir, "batch")) == batches and runs.read_run(run_dir).status == "failed"


@pytest.mark.slow
def test_dead_rank_fails_a_torchrun_cli_run(data_dir, tmp_path):
    done = torchrun(["-m", "mnist_core.train", "--data", SUBSET, "--epochs", "1", "--device", "cpu",
                     "--data-dir", str(data_dir), "--runs-dir", str(tmp_path)], env={FAULT_ENV: "1:5"})
    assert done.returncode != 0
    info = runs.read_run(only_run(tmp_path))  # a dead rank 0 is reported by pid liveness at the latest
    assert info.status == "failed" and info.error
    assert not (info.path / "model.pt").exists() and not list(info.path.glob(".*.tmp"))


def test_gpu_benchmark_runs_its_code_path_on_cpu(data_dir):
    command = [sys.executable, "benchmarks/gpu.py", "--device", "cpu", "--quick", "--data", SUBSET,
               "--data-dir", str(data_dir)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})  # a smoke test: spare the shared cores
    assert done.returncode == 0, done.stderr[-3000:]
    table = [line.split() for line in done.stdout.splitlines() if line.strip().startswith(("64 ", "256 "))]
    assert len(table) == 2 and all(float(row[1].replace(",", "")) > 0 for row in table)  # images/s figures
    assert "eager/bf16" in done.stdout
    assert len(re.findall(r"^batch +\d+, lr .+: time to 99% .+ images/s overall$", done.stdout, re.M)) == 2
