"""The Train page's label corrections: upload a corrected-labels CSV (the Review page exports one), or pick one
kept from an earlier upload. Never a typed path: a visitor must not make the server read a file of their choice.

An upload is parsed in memory, checked against the chosen data source and kept, re-written, under
<runs dir>/corrections/ (mnist_core.review.corrections.store_corrections); the run's config names the kept file, so the
run can be reproduced. Try it: `streamlit run app.py`, Train, "Label corrections".
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from mnist_core.data import DataError
from mnist_core.review.corrections import (
    MAX_BYTES,
    STORE,
    CorrectionsError,
    check_corrections,
    parse_corrections,
    store_corrections,
    stored_corrections,
)
from ui import state

UPLOAD_KEY = "train_corrections_upload"
PICK_KEY = "train_corrections"  # the kept file's name, "" for none
DONE_KEY = "train_corrections_done"  # (upload file_id, data source, kept path or the error message)
NONE_LABEL = "None: train on the labels as given"


def corrections_picker(container, data_name: str) -> str:
    """The path of the kept corrections file to train `data_name` with, or ""."""
    runs_dir = state.runs_dir()
    upload = container.file_uploader("Label corrections (optional): a corrected-labels CSV", type=["csv"],
                                     key=UPLOAD_KEY, max_upload_size=max(1, MAX_BYTES // 2**20),
                                     help="Export one from the Review page (Corrected labels). It is checked "
                                          "against the data source and kept with the runs trained on it.")
    if upload is not None:
        done = st.session_state.get(DONE_KEY)
        if done is None or done[:2] != (upload.file_id, data_name):
            done = (upload.file_id, data_name, _keep(upload.getvalue(), data_name, runs_dir))
            st.session_state[DONE_KEY] = done
            if isinstance(done[2], Path):
                st.session_state[PICK_KEY] = done[2].name  # before the selectbox exists: allowed
        if isinstance(done[2], str):
            container.error(f"These corrections were not used: {done[2]}")
    kept = stored_corrections(runs_dir, data_name)
    names = [""] + [k.path.name for k in kept]
    labels = {"": NONE_LABEL} | {k.path.name: k.label for k in kept}
    if st.session_state.get(PICK_KEY) not in names:  # another data source was chosen meanwhile
        st.session_state[PICK_KEY] = ""
    choice = container.selectbox(f"Corrected labels for {data_name}", names, format_func=labels.get, key=PICK_KEY)
    return str((Path(runs_dir) / STORE / choice).resolve()) if choice else ""


def _keep(data: bytes, data_name: str, runs_dir: Path) -> Path | str:
    """The kept file of an uploaded corrections file, or why it was refused (no file content in it)."""
    try:
        corrections = parse_corrections(data, "The uploaded file")
        check_corrections(corrections, state.load_data(data_name), "The uploaded file")
        return store_corrections(runs_dir, corrections)
    except (CorrectionsError, DataError, OSError) as exc:
        return str(exc)
