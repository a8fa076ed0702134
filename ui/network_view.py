"""What the Network page (and the Draw page's "Why?") show: the layer table, filters and feature maps as image
grids, and attribution maps drawn over the digit. Results are cached per run and image, in bounded caches.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import torch

from mnist_core.network import METHODS, attributions, feature_maps, first_conv_filters, layer_table
from mnist_core.predict import predict_proba
from ui.grid import grid_png
from ui.state import cached_net

DRAWING_KEY = "network_drawing"  # session_state: the Draw page's latest 28x28 digit (uint8), for the Network page
MAX_CHANNELS = 32  # feature maps shown per layer: a 64-channel layer's maps are 4x4 pixels, half of them tell it


def to_gray(maps: np.ndarray) -> np.ndarray:
    """(n, h, w) float -> uint8, each map stretched to 0..255 on its own (a flat map is mid-grey)."""
    lo = maps.min(axis=(1, 2), keepdims=True)
    span = maps.max(axis=(1, 2), keepdims=True) - lo
    return np.where(span > 0, (maps - lo) / np.where(span > 0, span, 1) * 255, 128).astype(np.uint8)


def heat_over(image: np.ndarray, attr: np.ndarray) -> np.ndarray:
    """(28, 28, 3) uint8: the digit dimmed in grey, evidence for the class in red, against it in blue."""
    scale = np.abs(attr).max()
    a = attr / scale if scale > 0 else np.zeros_like(attr)
    base = image.astype(np.float32) * 0.35
    rgb = np.stack([base + 255 * np.clip(a, 0, 1), base, base + 255 * np.clip(-a, 0, 1)], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


@st.cache_resource(show_spinner=False, max_entries=8)
def cached_layers(run_dir: str, mtime: float) -> pd.DataFrame:
    rows = layer_table(cached_net(run_dir, mtime)[0])
    table = pd.DataFrame(rows)
    table["output shape"] = table["output shape"].map(lambda s: " x ".join(map(str, s)))
    return table


@st.cache_resource(show_spinner="Opening the network…", max_entries=32)
def cached_inside(run_dir: str, mtime: float, index: int, image_bytes: bytes, targets: tuple[int, ...]) -> dict:
    """Feature maps and attributions of one image (its bytes are part of the key: a drawing has no index)."""
    net, meta = cached_net(run_dir, mtime)
    image = np.frombuffer(image_bytes, dtype=np.uint8).reshape(28, 28)
    return {"maps": feature_maps(net, image, meta["mean"], meta["std"]),
            "attr": {t: attributions(net, image, meta["mean"], meta["std"], target=t) for t in targets}}


def inside(run_dir: Path, image: np.ndarray, targets: tuple[int, ...], index: int = -1) -> dict:
    mtime = (Path(run_dir) / "model.pt").stat().st_mtime
    return cached_inside(str(run_dir), mtime, index, np.ascontiguousarray(image, dtype=np.uint8).tobytes(), targets)


def predict_one(run_dir: Path, image: np.ndarray) -> np.ndarray:
    """(C,) probabilities of one (28, 28) uint8 image, through the one prediction primitive."""
    net, meta = cached_net(str(run_dir), (Path(run_dir) / "model.pt").stat().st_mtime)
    return predict_proba(net, torch.tensor(image, dtype=torch.uint8)[None], meta["mean"], meta["std"])[0].numpy()


def filters_png(run_dir: Path) -> bytes:
    net, _ = cached_net(str(run_dir), (Path(run_dir) / "model.pt").stat().st_mtime)
    filters = first_conv_filters(net)
    return grid_png(to_gray(filters), [f"filter {i}" for i in range(len(filters))], cols=8, scale=3)


def show_feature_maps(maps: list[tuple[str, np.ndarray]]) -> None:
    for name, m in maps:
        shown = m[:MAX_CHANNELS]
        st.markdown(f"**{name}** · {m.shape[0]} channels of {m.shape[1]} x {m.shape[2]}"
                    + (f" (first {MAX_CHANNELS})" if len(m) > MAX_CHANNELS else ""))
        st.image(grid_png(to_gray(shown), [f"ch {i}" for i in range(len(shown))], cols=8, scale=2))


def show_attributions(image: np.ndarray, attr: dict[int, dict], class_names: list[str], labels: dict[int, str]) -> None:
    """One row per class: its three attribution maps over the image. `labels`: class -> why it is shown."""
    for target, maps in attr.items():
        st.markdown(f"**Class {class_names[target]}** ({labels[target]})")
        tiles = np.stack([heat_over(image, maps[m]) for m in METHODS])
        st.image(grid_png(tiles, list(METHODS), cols=3, scale=5),
                 caption="red: pixels that raise this class's score · blue: pixels that lower it")
