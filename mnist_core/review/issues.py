"""Label issues, outliers and near duplicates of one split of a run, found with cleanlab.

    from mnist_core.review.issues import find_issues, run_issues, leaks
    table = find_issues(probs, labels, embeddings)     # (N, C) probs, (N,) labels, optional (N, D) features
    table = run_issues(run_dir, "train")               # cached in the run folder as issues_train.npz
    pairs = leaks(run_dir)                              # [(train index, test index), ...] near duplicates

Per image (one row per image of the split, in the split's order):
    label_quality  cleanlab.rank.get_label_quality_scores (self-confidence, p(given label | image)); lower = worse
    is_issue       cleanlab.filter.find_label_issues (confident learning, prune by noise rate)
    suggested      for an issue, the most probable class other than the given label; -1 elsewhere
    outlier_score  cleanlab's OutOfDistribution score of the embeddings (cosine k-NN, k = 10), in [0, 1];
                   lower = more atypical; NaN without embeddings
    dup_group      near-duplicate group id (images whose embeddings are closer than Datalab's rule allows); -1 none

Near duplicates use Datalab's own rule (cleanlab/datalab/internal/issue_manager/duplicate.py): two images are
near duplicates when their cosine distance is below 0.13 x the median nearest-neighbour distance. Datalab itself
is not used because it needs the `datasets` package (pyarrow, the Hugging Face hub client), a large install for
one k-NN search; and cleanlab's own k-NN (scikit-learn, brute-force cosine) took minutes on 60,000 images on 2
cores, where one exact torch pass (chunked matrix products) serves outliers, duplicates and leaks in seconds.

The train split's probabilities are out-of-fold (oof_probs.npz, a run trained with `--folds K`); the test split's
come from probs.npz. Embeddings (embeddings.npz, {"train": (N_train, D), "test": (N_test, D)} float16) are optional.
(Runs trained before the .npz files have .pt files instead: mnist_core.run_arrays reads both.)
The ranking: `order()`, by label quality (lowest first), ties by index.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from mnist_core.review.suspects import check_inputs
from mnist_core.run_arrays import array_file, read_arrays, save_arrays
from mnist_core.runs import RunStoreError

SPLITS = ("train", "test")
DUP_THRESHOLD = 0.13  # Datalab's near_duplicate default: share of the median nearest-neighbour distance
NEIGHBOURS = 10  # cleanlab's OutOfDistribution default k
CHUNK = 1024  # rows per similarity block: 1024 x 60,000 float32 is 0.25 GB at most


@dataclass
class IssueTable:
    """One row per image of a split (numpy arrays of equal length)."""

    label_quality: np.ndarray  # float32
    is_issue: np.ndarray  # bool
    suggested: np.ndarray  # int64, -1 where not an issue
    outlier_score: np.ndarray  # float32, NaN without embeddings
    dup_group: np.ndarray  # int64, -1 = no near duplicate

    def __len__(self) -> int:
        return len(self.label_quality)

    def order(self) -> np.ndarray:
        """Image indices, lowest label quality first; ties keep the lower index first. Not likely issues first:
        that order found fewer flipped labels in its top N (benchmarks/label_noise.py, docs/review.md)."""
        return np.lexsort((np.arange(len(self)), self.label_quality))

    def dup_groups(self) -> list[np.ndarray]:
        """The near-duplicate groups, each a sorted array of image indices, biggest first."""
        ids = np.unique(self.dup_group[self.dup_group >= 0])
        groups = [np.flatnonzero(self.dup_group == g) for g in ids]
        return sorted(groups, key=lambda g: (-len(g), g[0]))


def nearest_neighbors(x: np.ndarray, k: int, others: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(distances, indices), each (N, k): the k nearest rows by cosine distance (1 - cosine similarity), closest
    first, of `others` (default: x itself, excluding each row's own)."""
    import torch  # one exact pass of chunked matrix products; only when the issues are computed, not read

    a = torch.nn.functional.normalize(torch.as_tensor(np.asarray(x, dtype=np.float32)), dim=1)
    b = a if others is None else torch.nn.functional.normalize(torch.as_tensor(np.asarray(others, np.float32)), dim=1)
    k = min(k, len(b) - (others is None))
    dist, idx = [], []
    for start in range(0, len(a), CHUNK):
        sim = a[start:start + CHUNK] @ b.T
        if others is None:  # an image is not its own neighbour
            rows = torch.arange(len(sim))
            sim[rows, rows + start] = -np.inf
        top = sim.topk(k, dim=1)
        dist.append((1 - top.values).clamp_min(0))
        idx.append(top.indices)
    return torch.cat(dist).numpy(), torch.cat(idx).numpy().astype(np.int64)


def neighbour_findings(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(outlier scores float32, near-duplicate group ids int64) of N rows of features, from one exact k-NN pass.

    Outlier score: cleanlab's OutOfDistribution formula (cleanlab.internal.outlier.transform_distances_to_scores
    of the mean cosine distance to the k nearest neighbours, scaled by its median), in [0, 1], lower = more
    atypical. Groups: connected components of the pairs closer than the near-duplicate radius; -1 = none.
    """
    from cleanlab.internal.outlier import transform_distances_to_scores
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(x)
    groups = np.full(n, -1, dtype=np.int64)
    if n < 2:
        return np.full(n, np.nan, dtype=np.float32), groups
    dist, idx = nearest_neighbors(x, NEIGHBOURS)
    avg = dist.mean(axis=1).astype(np.float64)
    scores = transform_distances_to_scores(avg, t=1, scaling_factor=max(float(np.median(avg)), 1e-12))
    radius = DUP_THRESHOLD * max(float(np.median(dist[:, 0])), 1e-6)
    rows, cols = np.nonzero(dist < radius)
    graph = coo_matrix((np.ones(len(rows)), (rows, idx[rows, cols])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    in_pair = np.zeros(n, dtype=bool)
    in_pair[rows] = in_pair[idx[rows, cols]] = True
    _, groups[in_pair] = np.unique(component[in_pair], return_inverse=True)  # ids 0.. in order of first image
    return np.asarray(scores, dtype=np.float32), groups


def find_issues(probs, labels, embeddings=None) -> IssueTable:
    """The IssueTable of N images from their (N, C) out-of-sample probabilities, (N,) given labels and,
    optionally, (N, D) embeddings (outliers and near duplicates); ValueError on shapes that do not fit."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    probs, labels = check_inputs(probs, labels)
    n, c = probs.shape
    probs = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-12, None)  # float16 files round the sums
    quality = get_label_quality_scores(labels, probs).astype(np.float32)
    if c >= 2 and len(np.unique(labels)) >= 2:
        issue = np.asarray(find_label_issues(labels, probs, n_jobs=1), dtype=bool)  # n_jobs=1: 2-core machines
    else:  # one class: no other label to suggest
        issue = np.zeros(n, dtype=bool)
    others = probs.copy()
    others[np.arange(n), labels] = -np.inf
    suggested = np.where(issue, others.argmax(axis=1), -1).astype(np.int64)
    outlier = np.full(n, np.nan, dtype=np.float32)
    dup = np.full(n, -1, dtype=np.int64)
    if embeddings is not None:
        embeddings = np.asarray(embeddings, dtype=np.float32)
        if embeddings.ndim != 2 or len(embeddings) != n:
            raise ValueError(f"embeddings must be an ({n}, D) array to match the probabilities, got {embeddings.shape}")
        outlier, dup = neighbour_findings(embeddings)
    return IssueTable(label_quality=quality, is_issue=issue, suggested=suggested, outlier_score=outlier, dup_group=dup)


def split_inputs(run_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[Path]]:
    """(probs, labels, embeddings or None, the files they came from) of one split of a run."""
    run_dir = Path(run_dir)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    stem = "oof_probs" if split == "train" else "probs"
    blob = read_arrays(run_dir, stem, "a probabilities file")
    if blob is None and split == "train":
        raise RunStoreError(f"Run {run_dir.name} has no out-of-fold probabilities for its training images: "
                            "train it with --folds K (for example `python -m mnist_core.train --folds 5 ...`) "
                            "to review the training split.")
    if blob is None:
        raise RunStoreError(f"Run {run_dir.name} has no test probabilities (probs.npz).")
    source = array_file(run_dir, stem)
    if not all(isinstance(blob.get(k), np.ndarray) for k in ("probs", "labels")):
        raise RunStoreError(f"{source.name} of run {run_dir.name} is not a probabilities file")
    files = [source]
    emb = read_arrays(run_dir, "embeddings", "an embeddings file")
    features = None
    if emb is not None and isinstance(emb.get(split), np.ndarray):
        features = emb[split].astype(np.float32)
        files.append(array_file(run_dir, "embeddings"))
    return blob["probs"].astype(np.float32), blob["labels"].astype(np.int64), features, files


def _cache_key(files: list[Path]) -> str:
    return json.dumps([[f.name, f.stat().st_mtime_ns, f.stat().st_size] for f in files])


def run_issues(run_dir: Path, split: str = "test") -> IssueTable:
    """The IssueTable of a run's split, from issues_<split>.npz when the files it came from have not changed
    since (their names, mtimes and sizes are its key), else computed and written there atomically (an older
    run's issues_<split>.pt cache is not read: it is rebuilt once as .npz)."""
    run_dir = Path(run_dir)
    probs, labels, features, files = split_inputs(run_dir, split)
    key = _cache_key(files)
    try:
        blob = read_arrays(run_dir, f"issues_{split}", "an issues file", legacy=False)
    except RunStoreError:
        blob = None  # an unreadable cache is rebuilt
    names = [f.name for f in fields(IssueTable)]
    if blob is not None and str(blob.get("key")) == key and all(n in blob for n in names):
        return IssueTable(**{n: blob[n] for n in names})
    table = find_issues(probs, labels, features)
    save_arrays(run_dir, f"issues_{split}", key=np.str_(key), **{n: getattr(table, n) for n in names})
    return table


def find_leaks(train: np.ndarray, test: np.ndarray) -> list[tuple[int, int]]:
    """(train index, test index) pairs closer than the near-duplicate radius (Datalab's rule, with the median
    nearest-neighbour distance of the test images to the training set), sorted."""
    if len(train) == 0 or len(test) == 0:
        return []
    dist, idx = nearest_neighbors(test, NEIGHBOURS, others=train)
    radius = DUP_THRESHOLD * max(float(np.median(dist[:, 0])), 1e-6)
    rows, cols = np.nonzero(dist < radius)
    return sorted((int(idx[r, c]), int(r)) for r, c in zip(rows, cols, strict=True))


def leaks(run_dir: Path) -> list[tuple[int, int]]:
    """Near duplicates between a run's training and test images: [(train index, test index), ...]."""
    run_dir = Path(run_dir)
    emb = read_arrays(run_dir, "embeddings", "an embeddings file")
    if emb is None or not all(isinstance(emb.get(s), np.ndarray) for s in SPLITS):
        raise RunStoreError(f"Run {run_dir.name} has no embeddings of both splits: train it with --folds K "
                            "to find near duplicates between the training and the test set.")
    return find_leaks(emb["train"].astype(np.float32), emb["test"].astype(np.float32))
