"""The embedding map's core: embed (the last Linear's input), make_map (shape, seed, clusters kept apart on real
MNIST), map.npz from a run's embeddings, and the worker writing map.npz after training.

    MNIST_DATA_DIR=../shared/data python -m pytest -q tests/test_embedding_map.py
"""
from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from fake_run import make_fake_run
from sklearn.neighbors import KNeighborsClassifier

from mnist_core import launch, runs
from mnist_core.config import TrainConfig
from mnist_core.data import load_dataset, to_model_input
from mnist_core.embedding_map import embed, load_map, main, make_map, write_map
from mnist_core.nets import ARCHITECTURES, make_net

REPO = Path(__file__).resolve().parent.parent


def knn_agreement(points: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Leave-one-out k-NN accuracy: how often a point's k nearest neighbours mostly share its label."""
    neighbours = KNeighborsClassifier(n_neighbors=k + 1).fit(points, labels).kneighbors(points, return_distance=False)
    votes = [np.bincount(labels[row[1:]], minlength=labels.max() + 1).argmax() for row in neighbours]
    return float((np.array(votes) == labels).mean())


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_embed_is_the_input_of_the_last_linear_layer(architecture, mnist_sample):
    torch.manual_seed(0)
    net = make_net(architecture, 10).eval()
    images = mnist_sample.test_images[:700]  # two batches of 512: the batching must keep the order
    features = embed(net, images, 0.1307, 0.3081, batch_size=512)
    last = [m for m in net.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert features.dtype == np.float16 and features.shape == (700, last.in_features)
    with torch.no_grad():  # the oracle: the last Linear applied to the features gives the net's own logits
        logits = net(to_model_input(images, 0.1307, 0.3081))
        from_features = last(torch.from_numpy(features.astype(np.float32)))
    assert torch.allclose(from_features, logits, atol=0.02, rtol=0.01)
    assert net.training is False and not last._forward_pre_hooks  # the hook is gone afterwards


def test_make_map_shape_dtype_and_seed(mnist_sample):
    x = mnist_sample.test_images[:600].reshape(600, -1).numpy().astype(np.float16) / 255
    first, again, other = make_map(x, seed=3), make_map(x, seed=3), make_map(x, seed=4)
    assert first.shape == (600, 2) and first.dtype == np.float32 and np.isfinite(first).all()
    np.testing.assert_array_equal(first, again)  # same seed, same map
    assert not np.allclose(first, other)
    assert make_map(x[:2], seed=0).shape == (2, 2) and make_map(x[:0], seed=0).shape == (0, 2)
    with pytest.raises(ValueError, match="NaN"):
        make_map(np.full((5, 3), np.nan), seed=0)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        make_map(np.zeros(5), seed=0)


def test_well_separated_digits_stay_separated_on_real_mnist(mnist_full):
    """3,000 real training digits (pixels): the 2D map keeps each digit's neighbours about as often as the 784-D
    pixels do (k-NN label agreement, scikit-learn, computed in both spaces)."""
    x = mnist_full.train_images[:3000].reshape(3000, -1).numpy().astype(np.float32) / 255
    labels = mnist_full.train_labels[:3000].numpy()
    in_pixels = knn_agreement(x, labels)
    in_map = knn_agreement(make_map(x.astype(np.float16), seed=0), labels)
    assert in_pixels > 0.9 and in_map > in_pixels - 0.05, (in_pixels, in_map)


def _embeddings_file(run_dir: Path, blob: dict) -> None:
    buffer = io.BytesIO()
    torch.save(blob, buffer)
    (run_dir / "embeddings.pt").write_bytes(buffer.getvalue())


def test_map_of_a_runs_embeddings_file(runs_dir, mnist_sample):
    """embeddings.pt (a run from before the .npz files, {"train", "test"} float16): map.npz gets both, a row an
    image."""
    run_dir = make_fake_run(runs_dir, labels=mnist_sample.test_labels.numpy())
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10, size=(10, 16))
    train = centres[mnist_sample.train_labels.numpy()] + rng.normal(size=(4000, 16))
    test = centres[mnist_sample.test_labels.numpy()] + rng.normal(size=(1000, 16))
    _embeddings_file(run_dir, {"train": torch.tensor(train, dtype=torch.float16),
                               "test": torch.tensor(test, dtype=torch.float16)})
    launch.write_map_quietly(run_dir, runs_dir)
    maps = load_map(run_dir)
    assert set(maps) == {"train", "test"} and maps["train"].shape == (4000, 2) and maps["test"].shape == (1000, 2)
    with np.load(run_dir / "map.npz", allow_pickle=False) as blob:
        assert blob["test"].dtype == np.float32
    assert knn_agreement(maps["test"], mnist_sample.test_labels.numpy()) > 0.95  # ten blobs, ten clusters


def test_cli_computes_the_map_of_an_existing_run(runs_dir, mnist_sample, capsys):
    run_dir = make_fake_run(runs_dir, labels=mnist_sample.test_labels.numpy())  # no embeddings.pt: embeds anew
    assert load_map(run_dir) is None
    assert main(["--run", str(run_dir), "--data-dir", str(runs_dir)]) == 0
    assert "map.npz written (test 1,000 points)" in capsys.readouterr().out
    assert load_map(run_dir)["test"].shape == (1000, 2)
    assert main(["--run", str(runs_dir / "nope")]) == 1
    assert "not a finished run" in capsys.readouterr().err


def test_the_worker_writes_the_map_after_training(runs_dir, tmp_path):
    """The dashboard's detached worker, as a real process: the run finishes, then map.npz appears beside model.pt
    (test images embedded by the final model, since this run has no embeddings.pt)."""
    # 3 epochs: after 1 (63 batches) the features are so weak that their 2D map's k-NN agreement swung 0.046-0.053
    # below theirs with float rounding alone; after 3 it is 0.91 against 0.92
    config = TrainConfig(data="mnist-sample", epochs=3, batch_size=64, device="cpu")
    run_dir = runs.create_run(runs_dir, config)
    done = subprocess.run([sys.executable, "-m", "mnist_core.launch", str(run_dir), str(tmp_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert runs.read_run(run_dir).status == "finished"
    assert (run_dir / "map.npz").stat().st_mtime >= (run_dir / "model.pt").stat().st_mtime
    maps = load_map(run_dir)
    assert set(maps) == {"test"} and maps["test"].shape == (1000, 2) and np.isfinite(maps["test"]).all()
    net, meta = runs.load_checkpoint(run_dir / "model.pt")
    dataset = load_dataset("mnist-sample")
    labels = dataset.test_labels.numpy()
    features = embed(net, dataset.test_images, meta["mean"], meta["std"]).astype(np.float32)
    # The map keeps the trained features' neighbourhoods: k-NN label agreement about as high in 2D as in D.
    assert knn_agreement(maps["test"], labels) > knn_agreement(features, labels) - 0.05 > 0.7
    again = write_map(run_dir, tmp_path)  # the CLI's path gives the same map: seeded by the run's seed
    np.testing.assert_array_equal(again["test"], maps["test"])
    assert time.time() - (run_dir / "map.npz").stat().st_mtime < 600
