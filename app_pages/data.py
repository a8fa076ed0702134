"""Data page: bring your own dataset (a .zip with one folder per class, an .npz, or a folder on the server),
check its preview and validation report before importing it, manage imported datasets, and move trained
models in and out as single files.
"""
from __future__ import annotations

import streamlit as st

from mnist_core.data import DataError
from mnist_core.own_data.datasets import commit, validate_name
from mnist_core.quotas import QuotaError
from ui import identity, state
from ui.data_widgets import analysis_for, dataset_manager, flash, models_in_and_out, server_folder, show_analysis

st.header("Data")
flash()
st.subheader("Bring your own data")
st.caption("One folder per class (`cat/001.png`, …; optionally inside `train/` and `test/`), PNG, JPEG, BMP or "
           "TIFF of any size, or an .npz with `images` and `labels`. Images become 28x28 grayscale, light ink on "
           "black like MNIST: dark-on-light images are inverted.")
upload = st.file_uploader("A .zip of class folders, or an .npz", type=["zip", "npz"], key="data_upload")
root, folder = server_folder()
name = st.text_input("Dataset name", key="data_name", placeholder="my-digits",
                     help="1-40 lowercase letters, digits, '-' or '_'; it becomes the data source's name.")
fraction = st.slider("Test fraction", 0.05, 0.5, 0.2, 0.05, key="data_test_fraction",
                     help="Share of each class held out for testing, unless the data has train/ and test/.")

analysis = analysis_for(upload, root, folder, fraction)
if analysis is not None:
    show_analysis(analysis)
    problem = None
    try:
        validate_name(name, data_dir=state.data_dir())
    except DataError as exc:
        problem = str(exc)
    if name and problem:
        st.warning(problem)
    if identity.require_login("import a dataset", key="data_login") and st.button(
            "Import", key="data_import", type="primary", disabled=problem is not None):
        try:
            commit(analysis, name, data_dir=state.data_dir(), imported_by=identity.email())
            st.success(f"Imported {name!r}. Train on it by choosing data source {name!r} on the Train page.")
        except QuotaError as exc:
            st.error(str(exc), icon=":material/block:")
        except (DataError, OSError) as exc:
            st.error(f"Nothing was imported: {exc}")

st.subheader("Imported datasets")
dataset_manager(state.data_dir())
st.subheader("Models in and out")
models_in_and_out(state.runs_dir(), state.data_dir())
