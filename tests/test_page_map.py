"""App tests (AppTest, through app.py) of the Map page: a run without a map says how to get one, a run with one
shows the map of the chosen split (?split= restored), and selections name images.

    python -m pytest -q tests/test_page_map.py
"""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from apptest_helpers import all_text, open_app
from fake_run import make_fake_run

from mnist_core.run_arrays import save_arrays
from ui.map_view import MapPoints, map_figure, selected_images

PAGE = "app_pages/embedding_map.py"


def save_map(run_dir, **splits) -> None:
    """map.npz in part D's format: {"test": float32 (N, 2), "train": float32 (N_train, 2) or absent}."""
    save_arrays(run_dir, "map", **{k: np.asarray(v, dtype=np.float32) for k, v in splits.items()})


@pytest.fixture
def lab(tmp_path, mnist_sample):
    runs_dir = tmp_path / "runs"
    labels = mnist_sample.test_labels.numpy()
    return tmp_path / "data", runs_dir, make_fake_run(runs_dir, labels=labels, run_id="20260101-000000-maps"), labels


def test_a_run_without_a_map_says_how_to_get_one(lab, monkeypatch):
    data_dir, runs_dir, run_dir, _ = lab
    at = open_app(data_dir, runs_dir, monkeypatch, PAGE)
    text = all_text(at)
    assert "has no embedding map yet" in text
    assert f'python -m mnist_core.embedding_map --run "${{MNIST_RUNS_DIR:-runs}}/{run_dir.name}"' in at.code[0].value
    assert str(run_dir.parent) not in at.code[0].value  # no server path for a visitor
    assert not at.get("plotly_chart")


def test_the_map_of_the_test_split_and_the_link_s_split(lab, monkeypatch):
    data_dir, runs_dir, run_dir, labels = lab
    xy = np.random.default_rng(0).normal(size=(len(labels), 2)) + labels[:, None] * 5
    save_map(run_dir, test=xy)
    at = open_app(data_dir, runs_dir, monkeypatch, PAGE)
    assert at.radio(key="map_split").value == "test"
    [chart] = at.get("plotly_chart")
    assert "Select points on the map" in all_text(at)
    assert "1,000 test images" in all_text(at)

    at = open_app(data_dir, runs_dir, monkeypatch, PAGE, split="train")  # restored from the URL
    assert at.radio(key="map_split").value == "train"
    assert "no map of its training images" in all_text(at)
    at = open_app(data_dir, runs_dir, monkeypatch, PAGE, split="valid")
    assert "split= in the link is not test or train" in all_text(at) and at.radio(key="map_split").value == "test"


def test_a_train_map_without_out_of_fold_probs_is_coloured_by_label(lab, monkeypatch, mnist_sample):
    data_dir, runs_dir, run_dir, labels = lab
    save_map(run_dir, test=np.zeros((len(labels), 2)), train=np.random.default_rng(1).normal(size=(4000, 2)))
    at = open_app(data_dir, runs_dir, monkeypatch, PAGE, split="train")
    assert "4,000 training images" in all_text(at) and at.get("plotly_chart")
    assert "likely label issue: 0)" in all_text(at)  # no out-of-fold probabilities: nothing to suspect


def test_a_train_map_marks_the_out_of_fold_suspects(lab, monkeypatch, mnist_sample):
    """oof_probs.pt in part A's format: the training images predicted as another class out of fold are ringed."""
    data_dir, runs_dir, run_dir, labels = lab
    train = mnist_sample.train_labels.numpy()
    probs = np.full((4000, 10), 0.01, dtype=np.float32)
    probs[np.arange(4000), train] = 0.91
    flipped = np.arange(0, 4000, 100)  # 40 images whose out-of-fold model is sure of another class
    probs[flipped] = 0.01
    probs[flipped, (train[flipped] + 1) % 10] = 0.91
    buffer = io.BytesIO()
    torch.save({"probs": torch.tensor(probs), "labels": torch.tensor(train),
                "folds": torch.zeros(4000, dtype=torch.int8), "k": 5}, buffer)
    (run_dir / "oof_probs.pt").write_bytes(buffer.getvalue())
    save_map(run_dir, test=np.zeros((len(labels), 2)), train=np.random.default_rng(1).normal(size=(4000, 2)))
    at = open_app(data_dir, runs_dir, monkeypatch, PAGE, split="train")
    assert "likely label issue: 40)" in all_text(at)


def test_a_map_of_the_wrong_size_is_refused(lab, monkeypatch):
    data_dir, runs_dir, run_dir, _ = lab
    save_map(run_dir, test=np.zeros((10, 2)))
    at = open_app(data_dir, runs_dir, monkeypatch, PAGE)
    assert "its map has 10 points but the split has 1,000 images" in all_text(at)


def test_figure_traces_and_selected_images():
    labels = np.array([0, 1, 1, 2, 0])
    points = MapPoints(np.arange(10, dtype=np.float32).reshape(5, 2), np.zeros((5, 28, 28), np.uint8), labels,
                       np.array([0, 1, 2, 2, 0]), np.ones(5), np.array([False, False, True, False, False]))
    figure = map_figure(points, ["a", "b", "<b>c</b>"])
    assert [t.type for t in figure.data] == ["scattergl"] * 4
    assert [list(t.customdata) for t in figure.data] == [[0, 4], [1, 2], [3], [2]]  # the last: suspects
    assert figure.data[2].name == "&lt;b&gt;c&lt;/b&gt;"  # class names shown as typed
    selection = {"points": [{"customdata": 4}, {"customdata": 2}, {"customdata": [2]}, {"customdata": 99}]}
    assert selected_images(selection, 5).tolist() == [2, 4]  # unique, in range, sorted
    assert selected_images(None, 5).tolist() == [] and selected_images({"points": []}, 5).tolist() == []
