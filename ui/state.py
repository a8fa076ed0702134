"""Cached objects shared by all sessions, and the run a user has selected.

Heavy shared objects (datasets, models, test probabilities, the review store) live in st.cache_resource,
keyed by run id and file modification time (or the database URL); a user's own choices live in st.session_state.
Datasets and probabilities are numpy arrays: only the pages that run a net (cached_net) import torch.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from mnist_core import runs
from mnist_core.data import (
    TORCHVISION_CLASSES,
    DataError,
    Dataset,
    default_data_dir,
    idx_dir,
    load_arrays,
    missing_idx_files,
)
from mnist_core.review.store import ReviewStore, configured_db_url
from mnist_core.runs import RunInfo, RunStoreError
from ui.text import md_escape
from ui.url import RUN_PARAM, param

if TYPE_CHECKING:
    import torch

RUN_KEY = "selected_run_id"  # session_state key of the run the pages show (not a widget key)


def data_dir() -> Path:
    return default_data_dir()


def runs_dir() -> Path:
    return runs.default_runs_dir()


@st.cache_resource(show_spinner=False, max_entries=4)  # load_data shows the spinner, with what is happening
def cached_dataset(name: str, folder: str) -> Dataset:
    """The data source as numpy arrays (load_arrays): the pages show images, they do not feed a net with them."""
    return load_arrays(name, folder)


def load_data(name: str) -> Dataset:
    """A data source for a page, shared by all sessions, behind a spinner that says whether it is downloading."""
    folder = data_dir()
    with st.spinner(loading_message(name, folder)):
        return cached_dataset(name, str(folder))


def loading_message(name: str, folder: Path) -> str:
    """'Downloading ...' when a torchvision source's IDX files are not on disk yet (first use on a new server)."""
    if name in TORCHVISION_CLASSES and missing_idx_files(name, folder):
        return (f"Downloading {name} into {idx_dir(name, folder)}: the first time only, this takes a minute or "
                "so. The `mnist-sample` data source works without downloading.")
    return f"Loading {name}…"


def secret_db_url() -> str | None:
    """st.secrets["review_db"], or None when there is no secrets file or no such entry."""
    try:
        value = st.secrets.get("review_db")
    except FileNotFoundError:  # no (or an unreadable) secrets.toml: StreamlitSecretNotFoundError
        return None
    return str(value) if value else None


def review_db_url() -> str:
    """Env MNIST_REVIEW_DB, else st.secrets["review_db"], else <runs dir>/reviews.db."""
    return configured_db_url(runs_dir(), secret_db_url())


@st.cache_resource(show_spinner=False, max_entries=4)
def open_store(url: str) -> ReviewStore:
    """One store (one connection pool) per database, shared by every session; failures are not cached."""
    return ReviewStore(url)


@st.cache_resource(show_spinner="Loading model…", max_entries=8)
def cached_net(run_dir: str, mtime: float) -> tuple[torch.nn.Module, dict]:
    loaded = runs.load_checkpoint(Path(run_dir) / "model.pt")  # imports torch: only the pages that run a net
    limit_torch_threads()
    return loaded


def limit_torch_threads() -> None:
    """One torch thread in the server, once torch is imported (without importing it). The server only predicts
    small batches (a drawing, an uploaded model's test set); training runs in worker processes. One thread
    avoids waking a second one per tiny call (measured 25-150 ms vs 2-4 ms when busy)."""
    if "torch" in sys.modules and sys.modules["torch"].get_num_threads() != 1:
        sys.modules["torch"].set_num_threads(1)


@dataclass
class RunView:
    """Everything the review pages need about one finished run, computed once per run."""

    info: RunInfo
    class_names: list[str]
    images: np.ndarray  # (N, 28, 28) uint8 test images
    probs: np.ndarray  # (N, C) float32 from predict_proba, cached in the run folder
    labels: np.ndarray  # (N,) int64 true (given) labels
    predicted: np.ndarray  # (N,) argmax class
    confidence: np.ndarray  # (N,) probability of the predicted class
    p_given: np.ndarray  # (N,) probability of the given label
    memo: dict = field(default_factory=dict)  # figures and tables derived from this run, built once

    @property
    def correct(self) -> np.ndarray:
        return self.predicted == self.labels

    def derived(self, key, build: Callable):
        """Build something that depends only on this run (a Plotly figure, a table) once, for every session.

        Plotly validates a figure when it is built, which costs tens of ms; st.plotly_chart of a built figure
        does not validate again. Callers must not mutate what they get back.
        """
        if key not in self.memo:
            self.memo[key] = build()
        return self.memo[key]


@st.cache_resource(show_spinner="Loading run…", max_entries=8)
def cached_run_view(run_dir: str, mtime: float, data_folder: str) -> RunView:
    """The run's test probabilities beside its data source's test images, whose class names are the run's (its
    checkpoint's class_names are the data source's: training and model import both require it), so that no
    net, and no torch, is loaded to show them. `mtime` (model.pt's) keys the cache."""
    info = runs.read_run(Path(run_dir))
    probs, labels = runs.load_probs(Path(run_dir))
    dataset = cached_dataset(info.config["data"], data_folder)
    if len(dataset.test_labels) != len(labels):
        raise RunStoreError(f"Run {info.run_id} was evaluated on {len(labels)} test images, but data source "
                            f"{info.config['data']!r} now has {len(dataset.test_labels)}.")
    if probs.shape[1] != dataset.num_classes:
        raise RunStoreError(f"Run {info.run_id}: its test probabilities have {probs.shape[1]} classes, but its "
                            f"data source {info.config['data']!r} has {dataset.num_classes}.")
    predicted = probs.argmax(axis=1)
    idx = np.arange(len(labels))
    return RunView(info, list(dataset.class_names), dataset.test_images, probs, labels, predicted,
                   probs[idx, predicted], probs[idx, labels])


def finished_runs() -> list[RunInfo]:
    """Finished runs, newest first: the ones the review pages can show (running, failed and broken are skipped)."""
    return [r for r in runs.list_runs(runs_dir()) if r.status == "finished"]


def default_run(finished: list[RunInfo]) -> RunInfo | None:
    """The newest finished run that learned: a diverged or chance-level run (RunInfo.warning) is shown only
    when someone picks it, never handed to everyone as the default model."""
    return next((r for r in finished if not r.warning), None)


def selected_run() -> RunInfo | None:
    """The run chosen in the sidebar (or by ?run= in the URL); else the default_run."""
    finished = finished_runs()
    by_id = {r.run_id: r for r in finished}
    chosen = asked_run_id()
    if chosen in by_id:
        return by_id[chosen]
    return default_run(finished)


def asked_run_id() -> str | None:
    """The run this session or its link asks for (the sidebar's last choice, else ?run=), valid or not."""
    return st.session_state.get(RUN_KEY) or param(RUN_PARAM)


def missing_run_notice(shown: RunInfo | None) -> str | None:
    """A Markdown notice when the asked-for run is not a finished run here (a mistyped or old link, or a run
    deleted since it was chosen), naming the value as given and the run shown instead; None when it is."""
    asked = asked_run_id()
    if not asked or (shown is not None and shown.run_id == asked):
        return None
    given = md_escape(repr(asked if len(asked) <= 80 else asked[:80] + "…"))
    instead = f"showing run {shown.run_id} instead" if shown is not None else "there is no finished run to show"
    return f"Run {given} is not a finished run here (mistyped, still training, or deleted); {instead}."


def require_selected_run() -> RunInfo:
    """The selected finished run; otherwise explain what to do, link to Train, and stop the page."""
    info = selected_run()
    if info is None:
        if finished_runs():
            st.info("No model is chosen: every finished run carries a warning that it did not learn. "
                    "Pick one in the sidebar to look at it anyway, or train again with a lower learning rate.")
        else:
            st.info("No trained model yet. Train one first: it takes about a minute on the offline sample.")
        link_to_train()
        st.stop()
    return info


def link_to_train() -> None:
    """A link to the Train page, or a pointer to it where no st.navigation registered it (a page run on its
    own, as AppTest.from_file does): st.page_link only links to registered pages."""
    try:
        st.page_link("app_pages/train.py", label="Go to Train", icon=":material/model_training:")
    except StreamlitPageNotFoundError:
        st.markdown("Open **Train** in the app's navigation (`streamlit run app.py`).")


def require_net() -> tuple[RunInfo, torch.nn.Module, dict]:
    """The selected run, its net (eval mode, cached) and checkpoint meta; otherwise say why and stop the page."""
    info = require_selected_run()
    try:
        mtime = (info.path / "model.pt").stat().st_mtime
        return (info, *cached_net(str(info.path), mtime))
    except (RunStoreError, OSError) as exc:
        st.error(f"Run {info.run_id} cannot be shown: {md_escape(exc)}")  # a run's config may come from a visitor
        st.stop()


def require_run_view() -> RunView:
    """The selected run's view; otherwise explain what to do, link to Train, and stop the page."""
    info = require_selected_run()
    try:
        mtime = (info.path / "model.pt").stat().st_mtime
        return cached_run_view(str(info.path), mtime, str(data_dir()))
    except (RunStoreError, DataError, OSError) as exc:
        st.error(f"Run {info.run_id} cannot be shown: {md_escape(exc)}")  # a run's config may come from a visitor
        st.stop()


def run_label(info: RunInfo) -> str:
    acc = f"{info.test_accuracy:.2%}" if info.test_accuracy is not None else "—"
    flag = " · ⚠ did not learn" if info.warning else ""
    return f"{info.run_id} · {info.config.get('data')} · {info.config.get('architecture')} · {acc}{flag}"
