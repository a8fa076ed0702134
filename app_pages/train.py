"""Train page: configure a run (or fill in a preset), preview the data, launch it in a worker process
that outlives the page, watch its progress live, and manage past runs.
"""
from __future__ import annotations

import dataclasses

import streamlit as st

from mnist_core.config import ConfigError
from mnist_core.launch import start_worker
from ui import state
from ui.train_widgets import config_form, data_preview, live_progress, runs_table, watched_run

st.header("Train")
config = config_form()
held_out = st.number_input("Validation images (held out to calibrate)", 0, 50_000, 0, step=1000, key="train_validation",
                           help="This many training images (seeded, stratified) are not trained on; a temperature "
                                "fitted on them calibrates the probabilities (Probabilities page). 0: the notebook.")
config = dataclasses.replace(config, validation=int(held_out))
data_preview(config.data)

busy = (current := watched_run()) is not None and current.status == "running"
if st.button("Start training", key="train_start", type="primary", disabled=busy,
             help="Training runs in its own process: you can leave this page or close the tab."):
    try:
        run_dir = start_worker(config, state.runs_dir(), state.data_dir())
        st.session_state["train_watch"] = run_dir.name
        st.rerun()
    except ConfigError as exc:
        st.error(f"Check **{exc.field}**: {exc}")
    except (ValueError, OSError) as exc:
        st.error(f"Could not start training: {exc}")

live_progress()
runs_table()
