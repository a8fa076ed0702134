"""The Train page's progress maths (mnist_core.progress): the incremental metrics.jsonl reader, the smoothed loss
that runs on across epochs, the stages before training, and the live grid's predictions in the epoch event.

    python -m pytest -q tests/test_progress.py
"""
from __future__ import annotations

import itertools
import json

import pytest
import torch

from mnist_core import launch, progress, runs
from mnist_core.config import TrainConfig
from mnist_core.progress import EventTail, Watcher, summarize


def batch_events(losses: list[list[float]], every: int) -> list[dict]:
    """The trainer's batch events for these per-batch losses (one list per epoch), logged every `every` batches:
    `loss` is the running mean of the epoch so far, as mnist_core.trainer writes it."""
    events = []
    for epoch, epoch_losses in enumerate(losses):
        n = len(epoch_losses)
        for b in range(1, n + 1):
            if b % every == 0 or b == n:
                events.append({"type": "batch", "epoch": epoch, "batch": b, "batches": n,
                               "loss": sum(epoch_losses[:b]) / b, "elapsed": 0.01 * (epoch * n + b)})
    return events


def test_the_tail_reads_only_what_was_appended_and_waits_for_a_half_written_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    tail = EventTail(path)
    assert tail.read() == []  # no file yet
    runs.append_event(tmp_path, {"type": "stage", "stage": "training"})
    runs.append_event(tmp_path, {"type": "batch", "loss": 2.3})
    assert tail.read() == [{"type": "stage", "stage": "training"}, {"type": "batch", "loss": 2.3}]
    assert tail.read() == [] and tail.offset == path.stat().st_size  # nothing new: nothing parsed again
    line = json.dumps({"type": "batch", "loss": 1.5}) + "\n"
    with open(path, "a") as f:  # the trainer is mid-line
        f.write(line[:10])
    assert tail.read() == []
    with open(path, "a") as f:
        f.write(line[10:])
    assert tail.read() == [{"type": "batch", "loss": 1.5}]


def test_a_line_left_half_written_by_a_dead_writer_is_skipped_and_what_follows_is_read(tmp_path):
    tail = EventTail(tmp_path / "metrics.jsonl")
    with open(tmp_path / "metrics.jsonl", "w") as f:
        f.write('{"type": "batch", "lo')  # the writer died here
    assert tail.read() == []
    runs.append_event(tmp_path, {"type": "failed", "error": "killed"})  # starts a fresh line
    assert tail.read() == [{"type": "failed", "error": "killed"}]


def test_the_watcher_built_bit_by_bit_equals_the_summary_of_the_whole_file(tmp_path):
    events = batch_events([[2.0 - 0.01 * i for i in range(40)]] * 3, every=3)
    events += [{"type": "epoch", "epoch": 2, "epochs": 3, "train_loss": 1.8, "test_loss": 1.7,
                "test_accuracy": 0.5, "elapsed": 9.0, "grid": {"index": [0, 9], "pred": [1, 2], "p": [0.9, 0.8]}},
               {"type": "finished", "test_accuracy": 0.5}]
    watcher = Watcher(tmp_path, epochs=3)
    versions = []
    for start in range(0, len(events), 7):
        for e in events[start:start + 7]:
            runs.append_event(tmp_path, e)
        assert watcher.update()
        versions.append(watcher.version)
        assert not watcher.update() and watcher.version == versions[-1]  # no new line: same version
    assert watcher.progress == summarize(runs.read_events(tmp_path), epochs=3)
    assert watcher.progress.overall == 1.0 and watcher.progress.grid["pred"] == [1, 2]


def test_the_mean_loss_between_two_events_is_recovered_exactly_from_running_means(monkeypatch):
    monkeypatch.setattr(progress, "SMOOTHING_EPOCHS", 1e-9)  # no smoothing: the curve is the interval means
    losses = [[3.0, 1.0, 2.0, 2.0, 5.0, 1.0], [0.5, 1.5, 4.0, 0.0, 1.0, 1.0]]
    curve = summarize(batch_events(losses, every=2), epochs=2).loss_curve
    expected = [(e + b / 6, (losses[e][b - 2] + losses[e][b - 1]) / 2) for e in range(2) for b in (2, 4, 6)]
    assert [xy for point in curve for xy in point] == pytest.approx([xy for point in expected for xy in point])


def test_the_smoothed_loss_runs_on_across_epochs_where_the_running_mean_drops():
    # A loss falling steadily through 3 epochs of 200 batches: the trainer's running mean restarts each
    # epoch, so the old curve fell by a step at every boundary; the smoothed one follows the real loss.
    epochs = [[2.0 * 0.995 ** (e * 200 + b) for b in range(200)] for e in range(3)]
    events = batch_events(epochs, every=10)
    p = summarize(events, epochs=3)
    smooth = [y for _, y in p.loss_curve]
    assert all(b <= a for a, b in itertools.pairwise(smooth))  # never rises: the true loss never does
    end_of_0, start_of_1 = smooth[19], smooth[20]  # the last point of epoch 0, the first of epoch 1
    running_end, running_start = events[19]["loss"], events[20]["loss"]
    assert running_start < 0.6 * running_end  # the old curve's drop at the boundary
    assert start_of_1 > 0.9 * end_of_0  # the smoothed curve carries on
    true_at_end = epochs[2][-1]
    assert smooth[-1] == pytest.approx(true_at_end, rel=0.1)  # and stays near the loss itself


def test_stages_before_the_first_batch():
    p = summarize([], epochs=2)
    assert (p.stage, p.stage_text) == ("starting", "starting the worker")
    p.add({"type": "stage", "stage": "loading data"})
    assert p.stage_text == "loading data" and p.overall == 0
    p.add({"type": "stage", "stage": "training"})
    p.add({"type": "batch", "epoch": 0, "batch": 5, "batches": 10, "loss": 1.0, "elapsed": 2.0})
    assert p.stage == "training" and p.overall == 0.25 and p.eta == pytest.approx(6.0)


def test_each_epoch_event_carries_the_fixed_test_images_predictions(runs_dir, tmp_path, mnist_sample):
    config = TrainConfig(data="mnist-sample", epochs=2, batch_size=64, device="cpu")
    run_dir = runs.create_run(runs_dir, config)
    assert launch.run_training(config, run_dir, tmp_path)["status"] == "finished"
    epochs = [e for e in runs.read_events(run_dir) if e["type"] == "epoch"]
    grid = epochs[-1]["grid"]
    assert [len(e["grid"]["pred"]) for e in epochs] == [25, 25] and epochs[0]["grid"]["index"] == grid["index"]
    assert grid["index"][0] == 0 and grid["index"][-1] == 999 and len(set(grid["index"])) == 25  # spread out
    labels = mnist_sample.test_labels[grid["index"]]
    assert set(labels.tolist()) == set(range(10))  # mnist-sample's test set is sorted by class: all ten show
    probs = torch.from_numpy(runs.load_probs(run_dir)[0])  # the final model's, so the last epoch's grid
    top_p, top = probs[grid["index"]].max(dim=1)
    assert grid["pred"] == top.tolist() and grid["p"] == pytest.approx(top_p.tolist(), abs=1e-4)
    assert (top == labels).sum() >= 15  # two epochs on 4,000 digits: most of them
