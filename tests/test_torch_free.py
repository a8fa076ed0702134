"""The dashboard's server shows a run without torch (issue 15, target 5): the Train page, then Predictions,
Probabilities and Review, read the run's stored arrays (.npz) and the data source's images as numpy arrays;
torch is imported only where a net runs (the Draw page here). Older runs (.pt files) stay readable.

    python -m pytest -q tests/test_torch_free.py
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd
from fake_run import make_fake_run

from mnist_core import run_probs, runs
from mnist_core.data import load_arrays, load_dataset
from mnist_core.run_arrays import array_file, read_arrays, save_arrays
from mnist_core.runs import RunStoreError

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("app_pages/predictions.py", "app_pages/probabilities.py", "app_pages/review.py")
# Run in a fresh interpreter (this one has torch already): app.py, then each page; one JSON line per page.
VISIT = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=120).run()
for page in [None] + sys.argv[2:]:
    if page:
        at.switch_page(page).run()
    print(json.dumps({"page": page or "app.py", "torch": "torch" in sys.modules, "run": at.sidebar.selectbox[0].value,
                      "problems": [str(e.value) for e in [*at.exception, *at.error]],
                      "text": " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.subheader])}))
"""


def visit(runs_dir: Path, pages: list[str]) -> list[dict]:
    env = {**os.environ, "MNIST_RUNS_DIR": str(runs_dir)}
    out = subprocess.run([sys.executable, "-c", VISIT, str(ROOT / "app.py"), *pages], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def test_the_pages_that_show_a_run_never_import_torch_and_draw_does(tmp_path):
    labels = load_arrays("mnist-sample").test_labels
    run_dir = make_fake_run(tmp_path / "runs", labels=labels)
    assert {p.name for p in run_dir.iterdir()} >= {"probs.npz", "model.pt"} and not (run_dir / "probs.pt").exists()
    shown = visit(tmp_path / "runs", [*PAGES, "app_pages/draw.py"])
    assert [s["page"] for s in shown] == ["app.py", *PAGES, "app_pages/draw.py"]
    for s in shown:
        assert s["run"] == run_dir.name and not s["problems"], s
    assert [s["torch"] for s in shown] == [False, False, False, False, True]  # Draw runs the net: the detector works
    accuracy = float((runs.load_probs(run_dir)[0].argmax(axis=1) == labels).mean())
    assert f"{accuracy:.2%}" in shown[1]["text"]  # Predictions shows this run's own probabilities


def test_a_run_from_before_the_npz_files_still_shows(tmp_path):
    """probs.pt (a torch.save dict, as runs were written before) is read, through torch, when no probs.npz is there."""
    labels = load_arrays("mnist-sample").test_labels
    run_dir = make_fake_run(tmp_path / "runs", labels=labels)
    probs, _ = runs.load_probs(run_dir)
    torch.save({"probs": torch.from_numpy(probs), "labels": torch.from_numpy(labels)}, run_dir / "probs.pt")
    (run_dir / "probs.npz").unlink()
    assert array_file(run_dir, "probs") == run_dir / "probs.pt"
    shown = visit(tmp_path / "runs", ["app_pages/predictions.py"])
    assert not shown[-1]["problems"] and shown[-1]["torch"]
    np.testing.assert_array_equal(runs.load_probs(run_dir)[0], probs)


def test_npz_is_read_first_without_pickles_and_old_pt_files_after(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert read_arrays(run_dir, "val_probs", "a probabilities file") is None
    torch.save({"probs": torch.full((3, 2), 0.5), "labels": torch.tensor([0, 1, 1]), "k": 3}, run_dir / "val_probs.pt")
    old = read_arrays(run_dir, "val_probs", "a probabilities file")
    assert old["probs"].dtype == np.float32 and old["labels"].tolist() == [0, 1, 1] and int(old["k"]) == 3
    run_probs.save_validation(run_dir, np.eye(2, dtype=np.float32)[[1, 0]], np.array([1, 0]), 1.5)
    probs, labels = run_probs.load_val_probs(run_dir)  # the .npz now, beside the older .pt
    assert probs.tolist() == [[0.0, 1.0], [1.0, 0.0]] and labels.dtype == np.int64 and labels.tolist() == [1, 0]
    assert read_arrays(run_dir, "val_probs", "x", legacy=False) is not None
    np.savez(run_dir / "embeddings.npz", train=np.array([{"a": 1}], dtype=object))  # needs a pickle to read
    with pytest.raises(RunStoreError, match=r"embeddings.npz of run run is unreadable \(ValueError\)"):
        run_probs.load_embeddings(run_dir)
    (run_dir / "map.npz").write_bytes(b"not a zip")
    with pytest.raises(RunStoreError, match=r"map.npz of run run is unreadable"):
        read_arrays(run_dir, "map", "a map file")
    save_arrays(run_dir, "epoch_probs", probs=np.ones((2, 3, 2), np.float16), labels=np.zeros(3, np.int64))
    assert run_probs.load_epoch_probs(run_dir)[0].shape == (2, 3, 2)


def test_the_idx_files_read_with_numpy_are_torchvisions_tensors_bit_for_bit(shared_data_dir):
    arrays = load_arrays("mnist", shared_data_dir, download=False)
    tensors = load_dataset("mnist", shared_data_dir, download=False)
    for train in (True, False):
        truth = tvd.MNIST(root=str(shared_data_dir), train=train)
        images, labels = ((arrays.train_images, arrays.train_labels) if train
                          else (arrays.test_images, arrays.test_labels))
        assert isinstance(images, np.ndarray) and images.dtype == np.uint8 and labels.dtype == np.int64
        assert torch.equal(torch.from_numpy(images), truth.data) and torch.equal(torch.from_numpy(labels),
                                                                                  truth.targets)
    assert isinstance(tensors.test_images, torch.Tensor) and torch.equal(tensors.test_images, truth.data)
    assert tensors.class_names == arrays.class_names == [str(d) for d in range(10)]
