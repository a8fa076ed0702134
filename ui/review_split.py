"""The Review page's split choice (test images or training images, ?split= in the link) and the view of the
chosen split: the run's test probabilities, or, on the training split, the out-of-fold probabilities of a
cross-validated run (oof_probs.npz) with the training images themselves. The queue choice draws from
`issue_rows`, one call per run and split.

    streamlit run app.py, then Review, "Training images"
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from mnist_core.data import DataError
from mnist_core.review.issues import IssueTable, run_issues
from mnist_core.review.queues import QUEUES
from mnist_core.review.splits import NO_OOF, OOF, SPLITS, load_train_probs
from mnist_core.review.suspects import Suspects, find_suspects
from mnist_core.run_arrays import array_file
from mnist_core.runs import RunStoreError
from ui.state import RunView, cached_dataset, data_dir
from ui.text import md_escape

NOUN = {"test": "Test image", "train": "Training image"}


def split_choice(container) -> str:
    """The split radio and queue box (their values seeded from the link by url.seed_review_split)."""
    left, right = container.columns([2, 3], vertical_alignment="bottom")
    split = left.radio("Images to review", list(SPLITS), format_func=SPLITS.get, key="review_split",
                       horizontal=True, help="Training images: their labels are what the model learns from; "
                                             "correct them, then retrain. Test images: what the run is scored on.")
    right.selectbox("Queue", list(QUEUES), format_func=QUEUES.get, key="review_queue",
                    help="Likely label issues: confident learning's suspects. Outliers and near-duplicate "
                         "groups use the run's embeddings. Lowest label quality: every image, worst first.")
    return split


@st.cache_resource(show_spinner="Loading the training images…", max_entries=4)
def cached_train_view(run_dir: str, mtime: float, data_folder: str, _test_view: RunView) -> RunView:
    """The run's training split as a RunView (images, out-of-fold probabilities, the labels folds trained on);
    _test_view (the run's test view, for its names; not hashed) belongs to the same run and model file."""
    test_view = _test_view
    loaded = load_train_probs(Path(run_dir))
    if loaded is None:
        raise FileNotFoundError(OOF)
    probs, labels = loaded
    info = test_view.info
    dataset = cached_dataset(info.config["data"], data_folder)
    if len(dataset.train_labels) != len(labels):
        raise RunStoreError(f"Run {info.run_id} has out-of-fold probabilities for {len(labels)} training images, "
                            f"but data source {info.config['data']!r} now has {len(dataset.train_labels)}.")
    if probs.shape[1] != len(test_view.class_names):
        raise RunStoreError(f"Run {info.run_id}: {array_file(run_dir, OOF).name} has {probs.shape[1]} classes, but "
                            f"its data source has {len(test_view.class_names)}.")
    predicted = probs.argmax(axis=1)
    rows = np.arange(len(labels))
    return RunView(info, test_view.class_names, dataset.train_images, probs, labels, predicted,
                   probs[rows, predicted], probs[rows, labels])


def split_view(test_view: RunView, split: str) -> RunView:
    """The view of `split`; on the training split of a run without out-of-fold probabilities, says how to get
    them and stops."""
    if split == "test":
        return test_view
    path = array_file(test_view.info.path, OOF)
    try:
        if path is None:
            raise FileNotFoundError(OOF)
        return cached_train_view(str(test_view.info.path), path.stat().st_mtime, str(data_dir()), test_view)
    except FileNotFoundError:
        st.info(NO_OOF, icon=":material/info:")
    except (RunStoreError, DataError, OSError) as exc:
        st.error(f"The training images of run {test_view.info.run_id} cannot be shown: {md_escape(exc)}")
    st.stop()


def issue_rows(view: RunView, split: str) -> tuple[Suspects, IssueTable]:
    """The per-class ranking of the split (its thresholds draw the probability chart) and cleanlab's table the
    queues draw from (mnist_core.review.issues.run_issues: cached in the run folder, which the worker fills in
    after training), once per run and split. A table that cannot be made says why and stops the page."""
    try:
        return view.derived(("queues", split), lambda: (find_suspects(view.probs, view.labels),
                                                         run_issues(view.info.path, split)))
    except (RunStoreError, ValueError, OSError) as exc:
        st.error(f"The review queues of run {view.info.run_id} cannot be made: {md_escape(exc)}")
        st.stop()
