"""The embedding map: a 2D map (UMAP) of a run's penultimate-layer features, computed once in the worker.

    embed(net, images, mean, std) -> float16 (N, D)   the input of the net's last Linear layer, per image
    make_map(embeddings, seed)    -> float32 (N, 2)   UMAP of those features (seeded: the same map every time)
    write_map(run_dir, data_dir)  -> map.npz          the worker's hook after the final model is saved
    load_map(run_dir)             -> {"test": (N, 2), "train": (N_train, 2) or absent} | None

map.npz is {"test": float32 [N_test, 2], "train": float32 [N_train, 2] (only when the embeddings have "train")},
written atomically (mnist_core.run_arrays; older runs' map.pt is still read). The dashboard only reads it: a map
is never computed on page load. For a run that has none:

    python -m mnist_core.embedding_map --run runs/<run id>     # computes map.npz for an existing run

UMAP rather than openTSNE: on 60,000 x 128 float16 features on 2 busy cores it took 132-267 s seeded against
openTSNE's 380-482 s in the same runs, with the same 2D 10-NN label agreement, 0.995 (benchmarks/embedding_map.py).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from mnist_core.data import to_model_input
from mnist_core.run_arrays import read_arrays, save_arrays
from mnist_core.run_read import RunStoreError

MAP = "map"  # the stem of the map's file (run_arrays.array_file finds map.npz, or an older run's map.pt)


def _last_linear(net: nn.Module) -> nn.Linear:
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"{type(net).__name__} has no Linear layer: no penultimate features to map")
    return linears[-1]  # modules() runs in definition order; every net of the lab ends with its last Linear


def embed(net: nn.Module, images: torch.Tensor, mean: float, std: float, batch_size: int = 512,
          device: torch.device | str | None = None) -> np.ndarray:
    """(N, 28, 28) uint8 images -> (N, D) float16: the input of the net's last Linear layer (a forward pre-hook),
    batched as predict.predict_proba is. float16 halves the file and is plenty for neighbours and maps."""
    device = torch.device(device) if device is not None else next(net.parameters()).device
    captured: list[torch.Tensor] = []
    hook = _last_linear(net).register_forward_pre_hook(lambda _m, inputs: captured.append(inputs[0].half().cpu()))
    was_training = net.training
    net.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                net(to_model_input(images[start:start + batch_size].to(device), mean, std))
    finally:
        hook.remove()
        net.train(was_training)
    if not captured:
        return np.zeros((0, _last_linear(net).in_features), dtype=np.float16)
    return torch.cat(captured).reshape(len(images), -1).numpy()


def make_map(embeddings: np.ndarray, seed: int) -> np.ndarray:
    """(N, D) features -> (N, 2) float32 UMAP coordinates; the same seed gives the same map.

    A seed makes umap-learn run single-threaded (its parallel SGD is not reproducible); 60,000 points still take
    under a minute on 2 cores. Fewer than 3 points have no neighbourhood: they get a line.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be an (N, D) array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("embeddings contain NaN or infinite values")
    n = len(x)
    if n < 3:
        return np.stack([np.arange(n, dtype=np.float32), np.zeros(n, dtype=np.float32)], axis=1)
    import umap  # imported here: numba's first import takes seconds, and only the worker and the CLI map

    reducer = umap.UMAP(n_components=2, n_neighbors=min(15, n - 1), min_dist=0.1, random_state=seed, n_jobs=1,
                        init="spectral" if n > 10 else "random")
    return np.ascontiguousarray(reducer.fit_transform(x), dtype=np.float32)


def load_embeddings(run_dir: Path) -> dict[str, np.ndarray]:
    """The run's embeddings as numpy arrays ({} when the run has none or they are unreadable: the map then embeds
    anew)."""
    try:
        blob = read_arrays(run_dir, "embeddings", "an embeddings file") or {}
    except RunStoreError:
        return {}
    return {k: v for k, v in blob.items() if k in ("train", "test") and v.ndim == 2}


def write_map(run_dir: Path | str, data_dir: Path | str, seed: int | None = None) -> dict[str, np.ndarray]:
    """The map file for a finished run: its embeddings, or, without test embeddings there, the test set embedded with
    the run's final model. Returns what was written."""
    from mnist_core import runs
    from mnist_core.config import TrainConfig
    from mnist_core.data import load_dataset
    from mnist_core.files import read_json

    run_dir = Path(run_dir)
    config = TrainConfig.from_dict(read_json(run_dir / "config.json", error=runs.RunStoreError))
    seed = config.seed if seed is None else seed
    embeddings = load_embeddings(run_dir)
    if "test" not in embeddings:
        net, meta = runs.load_checkpoint(run_dir / "model.pt")
        images = load_dataset(config.data, data_dir).test_images  # images only: label corrections do not matter
        embeddings["test"] = embed(net, images, meta["mean"], meta["std"])
    maps = {split: make_map(embeddings[split], seed) for split in ("test", "train") if split in embeddings}
    save_arrays(run_dir, MAP, **maps)
    return maps


def load_map(run_dir: Path | str) -> dict[str, np.ndarray] | None:
    """{"test": (N, 2) float32, maybe "train"} from the run's map; None when the run has no (readable) map."""
    try:
        blob = read_arrays(run_dir, MAP, "a map file")
    except RunStoreError:
        return None
    maps = {k: v.astype(np.float32) for k, v in (blob or {}).items()
            if k in ("train", "test") and v.ndim == 2 and v.shape[1] == 2}
    return maps or None


def main(argv: list[str] | None = None) -> int:
    from mnist_core.cli import ArgumentParser, fail
    from mnist_core.config import ConfigError
    from mnist_core.data import DataError
    from mnist_core.runs import RunStoreError

    parser = ArgumentParser(prog="python -m mnist_core.embedding_map",
                            description="Compute the embedding map (map.npz) of an existing finished run.")
    parser.add_argument("--run", required=True, help="the run folder, e.g. runs/20261129-040754-7b73")
    parser.add_argument("--data-dir", default=os.environ.get("MNIST_DATA_DIR", "./data"))
    parser.add_argument("--seed", type=int, default=None, help="default: the run's own seed")
    args = parser.parse_args(argv)
    run_dir = Path(args.run)
    if not (run_dir / "model.pt").is_file():
        return fail(f"{args.run}: not a finished run (no model.pt)", 1)
    started = time.perf_counter()
    try:
        maps = write_map(run_dir, args.data_dir, args.seed)
    except (RunStoreError, ConfigError, DataError, ValueError, OSError) as exc:
        return fail(f"{type(exc).__name__}: {exc}", 1)
    sizes = ", ".join(f"{split} {len(m):,} points" for split, m in maps.items())
    print(f"map.npz written ({sizes}) in {time.perf_counter() - started:.1f} s: {run_dir / (MAP + '.npz')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
