"""The Map page's pieces: one split's points (map.pt, labels, probabilities, images), the Scattergl figure, and
the images a box or lasso selection picked.

The map itself is computed in the worker (mnist_core.embedding_map); nothing here computes one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from mnist_core.embedding_map import load_map
from mnist_core.review.suspects import find_suspects
from mnist_core.run_probs import load_oof
from mnist_core.runs import RunStoreError
from ui.charts import chart_text
from ui.state import RunView, cached_dataset

SPLITS = {"test": "Test images", "train": "Training images"}
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf"]  # plotly's D3 colours: ten classes, ten distinguishable hues


@dataclass
class MapPoints:
    """One split of a run as the map shows it: row i is image i of the split (its index in that split)."""

    xy: np.ndarray  # (N, 2) float32
    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64 given labels
    predicted: np.ndarray | None  # (N,) argmax class; None without probabilities for the split
    p_given: np.ndarray | None  # (N,) p(given label | image)
    suspect: np.ndarray  # (N,) bool: predicted != given, or a likely label issue


def _train_probs(run_dir: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """(probs, labels) out of fold for the training images (oof_probs of a run trained with --folds)."""
    try:
        oof = load_oof(run_dir)
    except RunStoreError:
        return None
    return oof[:2] if oof is not None else None


@st.cache_resource(show_spinner="Loading the map…", max_entries=8)
def cached_points(run_dir: str, map_mtime: float, split: str, data_folder: str, _view: RunView) -> MapPoints | str:
    """The split's points, or a sentence saying why there are none (keyed by the map file's mtime: a new map
    shows)."""
    maps = load_map(run_dir)
    if maps is None:
        return "the map file of this run is unreadable"
    if split not in maps:
        return "this run has no map of its training images (it was not trained with cross-validation)"
    xy = maps[split]
    if split == "test":
        images, labels, probs = _view.images, _view.labels, _view.probs
    else:
        images = cached_dataset(_view.info.config["data"], data_folder).train_images
        oof = _train_probs(Path(run_dir))
        probs, labels = oof if oof is not None else (None, None)
        if labels is None:
            labels = cached_dataset(_view.info.config["data"], data_folder).train_labels
    if len(xy) != len(labels):
        return f"its map has {len(xy):,} points but the split has {len(labels):,} images"
    if probs is None:
        return MapPoints(xy, images, labels, None, None, np.zeros(len(labels), dtype=bool))
    s = find_suspects(probs, labels)
    return MapPoints(xy, images, labels, s.predicted, s.p_given, (s.predicted != labels) | s.issue)


def map_figure(points: MapPoints, class_names: list[str], nonce: int = 0) -> go.Figure:
    """One Scattergl trace per given label (the legend toggles classes), suspects ringed in black on top.
    Every marker's customdata is its image index, so a selection names images whichever trace it hits."""
    traces = []
    for k, name in enumerate(class_names):
        idx = np.flatnonzero(points.labels == k)
        traces.append(dict(type="scattergl", mode="markers", name=chart_text(name), x=points.xy[idx, 0],
                           y=points.xy[idx, 1], customdata=idx, hovertemplate=f"#%{{customdata}} · given "
                           f"{chart_text(name)}<extra></extra>",
                           marker=dict(size=3, color=PALETTE[k % len(PALETTE)], opacity=0.7)))
    bad = np.flatnonzero(points.suspect)
    if len(bad):
        traces.append(dict(type="scattergl", mode="markers", name="suspect", x=points.xy[bad, 0],
                           y=points.xy[bad, 1], customdata=bad, hovertemplate="#%{customdata} · suspect<extra></extra>",
                           marker=dict(size=8, symbol="circle-open", color="black", line=dict(width=1.5))))
    layout = dict(dragmode="select", height=620, margin=dict(l=10, r=10, t=10, b=10), hovermode="closest",
                  xaxis=dict(visible=False), yaxis=dict(visible=False, scaleanchor="x"),
                  legend=dict(itemsizing="constant", title="given label", yanchor="top", y=0.92),
                  plot_bgcolor="white", meta=nonce)
    return go.Figure(data=traces, layout=layout)  # plain dicts: no validation of 60,000 points per build


def selected_images(selection, n: int) -> np.ndarray:
    """The image indices a box or lasso selection (st.plotly_chart's selection state) picked, sorted, unique."""
    chosen = [p.get("customdata") for p in (selection or {}).get("points", [])]
    if chosen and isinstance(chosen[0], list):  # plotly sends a one-element list for 1-D customdata on some traces
        chosen = [c[0] if c else None for c in chosen]
    picked = np.array([int(c) for c in chosen if isinstance(c, (int, float)) and 0 <= c < n], dtype=np.int64)
    return np.unique(picked)
