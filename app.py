"""MNIST Lab: the Streamlit entry point. Routes the pages and draws the shared sidebar (the run picker).

    streamlit run app.py
"""
from __future__ import annotations

import streamlit as st

from ui.reviewer import reviewer_sidebar
from ui.state import RUN_KEY, finished_runs, limit_torch_threads, missing_run_notice, run_label, selected_run
from ui.train_queue import start_dispatcher
from ui.url import RUN_PARAM, publish

limit_torch_threads()  # once a page that runs a net has imported torch (the others never do)
st.set_page_config(page_title="MNIST Lab", page_icon="✍️", layout="wide")
start_dispatcher()  # once per server process: queued runs start when a slot frees, with no page open too

PAGES = [
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:", default=True),
    st.Page("app_pages/data.py", title="Data", icon=":material/folder_open:"),
    st.Page("app_pages/predictions.py", title="Predictions", icon=":material/grid_view:"),
    st.Page("app_pages/probabilities.py", title="Probabilities", icon=":material/bar_chart:"),
    st.Page("app_pages/review.py", title="Review", icon=":material/fact_check:"),
    st.Page("app_pages/embedding_map.py", title="Map", icon=":material/scatter_plot:", url_path="map"),
    st.Page("app_pages/draw.py", title="Draw", icon=":material/draw:"),
    st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
    st.Page("app_pages/network.py", title="Network", icon=":material/hub:"),
]
page = st.navigation(PAGES)

notice = missing_run_notice(selected_run())
if notice:  # said at the top of the page, not swapped silently
    st.warning(notice, icon=":material/link_off:")

with st.sidebar:
    st.title("MNIST Lab")
    finished = finished_runs()
    if finished:
        ids = [r.run_id for r in finished]
        labels = {r.run_id: run_label(r) for r in finished}
        current = selected_run()  # None when every finished run did not learn: none is the default then
        if st.session_state.get("sidebar_run") not in ids:  # e.g. that run was deleted: start from `current`
            st.session_state.pop("sidebar_run", None)
        choice = st.selectbox("Run", ids, index=ids.index(current.run_id) if current else None,
                              format_func=labels.get, key="sidebar_run", placeholder="Choose a run",
                              help="The trained run the other pages show; newest first.")
        if choice is not None:
            st.session_state[RUN_KEY] = choice
            publish(**{RUN_PARAM: choice})  # keeps the view shareable as a link
            if warning := next(r.warning for r in finished if r.run_id == choice):
                st.warning(warning, icon=":material/warning:")
    else:
        st.caption("No trained model yet: start one on the Train page.")
    reviewer_sidebar()

page.run()
