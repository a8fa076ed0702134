"""Train page: configure a run (or fill in a preset), preview the data, launch it in a worker process
that outlives the page, watch its progress live, and manage past runs.
"""
from __future__ import annotations

import dataclasses

import streamlit as st

from mnist_core.config import ConfigError
from mnist_core.launch import start_worker
from mnist_core.quotas import QuotaError
from ui import identity, state
from ui.train_progress import WATCH_KEY, progress_panel, runs_table, watched_run
from ui.train_queue import queue_list
from ui.train_widgets import config_form, data_preview, folds_input

st.header("Train")
# Slots in page order, filled out of order: the watched run's progress is drawn first, so that after a reload
# its bars show at once instead of after the form and the data preview (which may load a dataset).
form_slot, start_slot, progress_slot = st.container(), st.container(), st.container()
current = watched_run()
with progress_slot:
    progress_panel(current)
with form_slot:
    config = config_form()
    held_out = st.number_input("Validation images (held out to calibrate)", 0, 50_000, 0, step=1000,
                               key="train_validation",
                               help="This many training images (seeded, stratified) are not trained on; a "
                                    "temperature fitted on them calibrates the probabilities (Probabilities "
                                    "page). 0: the notebook.")
    config = dataclasses.replace(config, validation=int(held_out), folds=folds_input())
    data_preview(config.data)

with start_slot:
    if identity.require_login("start a training run", key="train_login") and st.button(
            "Start training", key="train_start", type="primary",
            help="Training runs in its own process: you can leave this page or close the tab. When the server "
                 "already trains as many runs as it allows, the run waits in the queue."):
        try:
            run_dir = start_worker(config, state.runs_dir(), state.data_dir(), owner=identity.email())
            st.session_state[WATCH_KEY] = run_dir.name
            st.rerun()
        except ConfigError as exc:
            st.error(f"Check **{exc.field}**: {exc}")
        except QuotaError as exc:
            st.error(str(exc), icon=":material/block:")
        except (ValueError, OSError) as exc:
            st.error(f"Could not start training: {exc}")

queue_list()
runs_table()
