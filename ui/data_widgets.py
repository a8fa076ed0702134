"""The Data page's sections: pick a server folder inside an allowed root, analyse a source in a limited child
process (kept per session), show its preview and validation report,
the imported-datasets table with a confirmed remove, and models in and out. Errors become st.error.
"""
from __future__ import annotations

import math
from functools import partial
from pathlib import Path

import pandas as pd
import streamlit as st

from mnist_core.checkpoint import max_checkpoint_bytes
from mnist_core.data import DataError
from mnist_core.own_data.archive import printable
from mnist_core.own_data.datasets import (
    Analysis,
    Limits,
    analyse_bytes,
    analyse_path,
    import_roots,
    list_imported,
    preview,
    remove_dataset,
)
from mnist_core.own_data.sandbox import run_limited
from mnist_core.quotas import QuotaError
from mnist_core.runs import RunStoreError
from mnist_core.transfer import export_file_name, export_model, import_model
from ui import identity, state
from ui.grid import render_grid

ANALYSIS_KEY = "data_analysis"  # session_state: (what was analysed, Analysis or the error message)
FLASH_KEY = "data_flash"  # session_state: a success message to show after a rerun
CANCELLED = "Cancelled: nothing was imported. Change the file, folder or test fraction to analyse again."


def server_folder() -> tuple[Path | None, str]:
    """(allowed root, path typed inside it): the server-folder picker, shown only when MNIST_IMPORT_ROOTS
    allows folders. A visitor never types a server path: only a path inside a root, named by its last part."""
    roots = import_roots()
    if not roots:
        st.caption("Importing from a folder on this server is off; the server's administrator can allow "
                   "folders with the MNIST_IMPORT_ROOTS setting.")
        return None, ""
    names = [f"{root.name} ({i + 1})" if [r.name for r in roots].count(root.name) > 1 else root.name
             for i, root in enumerate(roots)]
    left, right = st.columns([1, 2])
    chosen = left.selectbox("…or a folder on this server, in", range(len(roots)), format_func=names.__getitem__,
                            key="data_root")
    folder = right.text_input("Folder (or .zip/.npz) inside it", key="data_folder", placeholder="my_digits")
    return roots[chosen], folder.strip()


def analysis_for(upload, root: Path | None, folder: str, test_fraction: float) -> Analysis | None:
    """The analysis of the uploaded file, else of the folder inside `root`; computed once per source and
    fraction, in a limited child process that a Cancel button (or leaving the page) stops."""
    if upload is not None:
        source = ("upload", upload.file_id, test_fraction)
    elif root is not None and folder:
        source = ("folder", str(root), folder, test_fraction)
    else:
        return None
    cached = st.session_state.get(ANALYSIS_KEY)
    if cached is None or cached[0] != source:
        st.session_state[ANALYSIS_KEY] = cached = (source, _analyse(upload, root, folder, test_fraction))
    if isinstance(cached[1], str):
        st.error(cached[1])
        return None
    return cached[1]


def _analyse(upload, root: Path | None, folder: str, test_fraction: float) -> Analysis | str:
    """Run the analysis in the sandbox, showing the time and a Cancel button; the error message if it fails.

    Streamlit stops this script at its next element call when the visitor clicks Cancel or leaves; that
    exception passes through run_limited, which kills the child on its way out.
    """
    cancel, status = st.empty(), st.empty()  # both are cleared once the analysis is over
    if cancel.button("Cancel", key="data_cancel"):  # True only in the rerun that this click started
        cancel.empty()
        return CANCELLED
    try:
        limits = Limits.from_env()
        call = ((analyse_bytes, (upload.name, upload.getvalue(), test_fraction, 0, limits)) if upload is not None
                else (analyse_path, (folder, test_fraction, 0, limits, root)))
        with st.spinner("Reading and checking every file…"):
            return run_limited(*call, limits, on_wait=lambda elapsed: status.caption(
                f"{elapsed:.0f} s so far (stopped after {limits.cpu_seconds:,} s of CPU time)"))
    except DataError as exc:
        return str(exc)
    finally:
        cancel.empty()
        status.empty()


def show_analysis(analysis: Analysis) -> None:
    """The 5x5 preview grid, the class counts and the validation report (plain text: names come from the
    visitor's files and are never rendered as Markdown)."""
    shown = preview(analysis)
    left, right = st.columns([3, 2])
    left.image(render_grid(shown.images, shown.titles), caption="First training images, as the model will see them")
    right.dataframe(pd.DataFrame(shown.counts).rename_axis("class"), width="stretch")
    st.text("\n".join(analysis.report(skipped_lines=0)))
    if analysis.data.skipped:
        with st.expander(f"Skipped files ({len(analysis.data.skipped):,})"):
            rows = [(printable(path), printable(reason)) for path, reason in analysis.data.skipped]
            st.dataframe(pd.DataFrame(rows, columns=["file", "reason"]), hide_index=True)


def flash() -> None:
    if message := st.session_state.pop(FLASH_KEY, None):
        st.success(message)


def dataset_manager(data_dir: Path) -> None:
    """The imported datasets, and removing one after an explicit confirmation."""
    rows = list_imported(data_dir=data_dir)
    if not rows:
        st.caption("No imported datasets yet.")
        return
    st.dataframe(pd.DataFrame([_table_row(r) for r in rows]), hide_index=True, width="stretch")
    if not identity.may_delete():
        st.caption(identity.delete_refusal())
        return
    choice = st.selectbox("Remove a dataset", [r["name"] for r in rows], index=None, key="data_remove_choice",
                          placeholder="Choose a dataset to remove…")
    if choice is None:
        return
    sure = st.checkbox(f"Yes, delete {choice!r} for good (runs trained on it stay, but cannot be reviewed "
                       "without it)", key="data_remove_confirm")
    if st.button("Remove", key="data_remove", disabled=not sure):
        try:
            remove_dataset(choice, data_dir=data_dir)
        except (DataError, OSError) as exc:
            st.error(f"Could not remove {choice!r}: {exc}")
            return
        for key in ("data_remove_choice", "data_remove_confirm", ANALYSIS_KEY):
            st.session_state.pop(key, None)
        st.session_state[FLASH_KEY] = f"Removed dataset {choice!r}."
        st.rerun()


def _table_row(manifest: dict) -> dict:
    if "error" in manifest:
        return {"name": manifest["name"], "classes": None, "train": None, "test": None, "source": manifest["error"]}
    counts = manifest["counts"]
    return {"name": manifest["name"], "classes": len(manifest["class_names"]),
            "train": sum(counts["train"].values()), "test": sum(counts["test"].values()),
            "source": printable(f"{manifest['source']['kind']}: {manifest['source']['file']}"),
            "imported": manifest["created"], "imported by": manifest.get("imported_by", "")}


def models_in_and_out(runs_dir: Path, data_dir: Path) -> None:
    """Download a finished run's model as one file; upload such a file to add it as a run."""
    finished = state.finished_runs()
    if finished:
        ids = [r.run_id for r in finished]
        labels = {r.run_id: state.run_label(r) for r in finished}
        current = state.selected_run()
        chosen = st.selectbox("Run", ids, index=ids.index(current.run_id) if current else 0, format_func=labels.get,
                              key="model_run")
        run = finished[ids.index(chosen)]
        st.download_button("Download model", data=partial(export_model, run.path), file_name=export_file_name(run),
                           mime="application/octet-stream", key="model_download", on_click="ignore")
    else:
        st.caption("No finished run to download yet.")
    upload = st.file_uploader("Add a model file (.pt from Download model) as a run", type=["pt"], key="model_upload",
                              max_upload_size=math.ceil(max_checkpoint_bytes() / 2**20),
                              help="A checkpoint saved by this app. It is checked before it is read, never run, "
                                   "and evaluated on the test set of the data source it names.")
    if upload is not None and identity.require_login("add a model as a run", key="model_login") and st.button(
            "Add as run", key="model_import"):
        try:
            with st.spinner("Checking the model and evaluating it on its test set…"):
                run_dir = import_model(upload.getvalue(), runs_dir, data_dir, upload.name, owner=identity.email())
        except (RunStoreError, DataError, QuotaError, OSError) as exc:
            st.error(str(exc))
            return
        st.success(f"Added run {run_dir.name}; choose it in the sidebar to review it.")
