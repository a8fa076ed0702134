"""Compare page: 2 to 4 finished runs side by side (curves, config differences, per-class accuracy), and where
two of them disagree, with McNemar's exact test. The selection is in the URL: ?runs=ID,ID&a=ID&b=ID.
"""
from __future__ import annotations

import streamlit as st

from mnist_core.compare import CompareError, check_comparable
from mnist_core.data import DataError
from mnist_core.runs import RunStoreError
from ui.compare_view import config_table, curves_figure, disagreement_section, memo, per_class_table
from ui.state import cached_run_view, data_dir, finished_runs, link_to_train, run_label
from ui.url import publish, restore

st.header("Compare runs")
finished = finished_runs()
ids = [r.run_id for r in finished]
by_id = {r.run_id: r for r in finished}
if len(ids) < 2:
    st.info("Comparing needs at least two finished runs: train another one.")
    link_to_train()
    st.stop()

restore("compare_runs", "runs", lambda v: [i for i in dict.fromkeys(v.split(",")) if i in by_id][:4])
if not set(st.session_state.get("compare_runs") or ids[:2]) <= set(ids):  # a run deleted meanwhile
    st.session_state.pop("compare_runs")
st.session_state.setdefault("compare_runs", ids[:2])
chosen = st.multiselect("Runs (2 to 4)", ids, key="compare_runs", max_selections=4,
                        format_func=lambda i: run_label(by_id[i]))
publish(runs=",".join(chosen) or None)
if len(chosen) < 2:
    st.info("Pick at least two runs.")
    st.stop()
try:
    views = [cached_run_view(str(by_id[i].path), (by_id[i].path / "model.pt").stat().st_mtime, str(data_dir()))
             for i in chosen]
    check_comparable(chosen, [v.probs for v in views], [v.labels for v in views])
except CompareError as exc:
    st.error(str(exc))
    st.stop()
except (RunStoreError, DataError, OSError) as exc:
    st.error(f"A run cannot be shown: {exc}")
    st.stop()

x = st.radio("Curves against", ["epoch", "wall time"], key="compare_x", horizontal=True)
selection = tuple((v.info.run_id, id(v)) for v in views)  # a retrained or reloaded run is a new view
st.plotly_chart(memo((selection, x), lambda: curves_figure(views, "epoch" if x == "epoch" else "elapsed")),
                key="compare_curves")
left, right = st.columns(2)
left.markdown("**Config fields that differ**")
differences = memo((selection, "config"), lambda: config_table(views))
if differences.empty:
    left.caption("None: the same config (another seed would show here).")
else:
    left.dataframe(differences, hide_index=True)
right.markdown("**Accuracy per class**")
right.dataframe(memo((selection, "per class"), lambda: per_class_table(views)), hide_index=True,
                column_config={i: st.column_config.NumberColumn(format="percent") for i in chosen})

st.subheader("Where two runs disagree")
for key, param, default in (("compare_a", "a", chosen[0]), ("compare_b", "b", chosen[1])):
    restore(key, param, options=chosen)
    if st.session_state.get(key) not in chosen:
        st.session_state[key] = default
c1, c2 = st.columns(2)
a = c1.selectbox("Run A", chosen, key="compare_a")
b = c2.selectbox("Run B", chosen, key="compare_b")
publish(a=a, b=b)
if a == b:
    st.info("Pick two different runs as A and B.")
else:
    disagreement_section(views[chosen.index(a)], views[chosen.index(b)])
