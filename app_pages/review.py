"""Review page: go through the training or test images whose given label is most likely wrong, as a team, record
verdicts, and retrain with the corrections.

Part of the dashboard: `streamlit run app.py`, then Review. The split (test images, or the training images with
the out-of-fold probabilities of a cross-validated run: ui/review_split.py) and the queue (ui/review_split.py's
issue_rows, mnist_core/review/queues.py) are chosen at the top; verdicts go to the review store (env
MNIST_REVIEW_DB, else st.secrets["review_db"], else <runs dir>/reviews.db) with their split. The view lives in the
URL (see ui/url.py). Below: export, "Retrain with the corrections" and before / after (ui/retrain.py).
Keys: W label is wrong, A ambiguous, M model is wrong, F fine, P previous, N next.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_core.review.corrections import CorrectionsError, format_corrections
from mnist_core.review.export import export_rows, review_corrections, rows_to_csv, rows_to_json
from mnist_core.review.queue import image_to_show, neighbours, next_unreviewed, suggested_label
from mnist_core.review.queues import QUEUES, empty_reason, filter_order, group_of, queue_order
from mnist_core.review.store import MAX_NOTE, VERDICTS, ReviewStoreError, VerdictError, latest_by_image, shown_url
from ui.grid import enlarge
from ui.identity import login_on
from ui.retrain import before_after_section, retrain_section
from ui.review import describe, issues_table, probability_chart, queue_table
from ui.review_split import NOUN, issue_rows, split_choice, split_view
from ui.reviewer import current_reviewer
from ui.state import finished_runs, open_store, require_run_view, review_db_url
from ui.text import md_escape
from ui.url import (
    IMAGE_KEY,
    IMAGE_PARAM,
    open_in_network,
    param,
    publish_review_view,
    review_image,
    seed_review_filters,
    seed_review_split,
)

SHORTCUTS = {"label_wrong": "W", "ambiguous": "A", "model_wrong": "M", "fine": "F"}

test_view = require_run_view()
names, run_id, data = test_view.class_names, test_view.info.run_id, test_view.info.config.get("data", "")
reviewer = current_reviewer()
ASK_NAME = "log in (in the sidebar)" if login_on() else "enter your name in the sidebar"
st.header("Review labels")
for problem in seed_review_split(list(QUEUES)):
    st.warning(md_escape(problem))
split = split_choice(st)
view = split_view(test_view, split)  # on the training split of a run with no out-of-fold probabilities: stops
db_url = review_db_url()
try:
    store = open_store(db_url)
    history = store.history(run_id, split=split)
except ReviewStoreError as exc:
    st.error(f"{md_escape(exc)}. Set MNIST_REVIEW_DB (or review_db in .streamlit/secrets.toml) to a reachable "
             "database.")
    st.stop()
latest = latest_by_image(history)
s, table = issue_rows(view, split)
# Names, notes, class and dataset names are typed by visitors: every one goes through md_escape or st.text.
st.caption(f"Run {md_escape(run_id)} · {md_escape(data)} · verdicts stored in {md_escape(shown_url(db_url))} · "
           f"reviewing as {md_escape(reviewer) if reviewer else '— ' + ASK_NAME}"
           + ("" if login_on() else " (names are not verified)"))

for problem in seed_review_filters(len(names)):
    st.warning(md_escape(problem))
f1, f2, f3, f4 = st.columns([2, 3, 2, 2], vertical_alignment="bottom")
f1.selectbox("Given label", [None, *range(len(names))], key="review_class",
             format_func=lambda k: "All classes" if k is None else names[k])
f2.slider("p(given label) at most", 0.0, 1.0, step=0.01, key="review_threshold",
          help="Only images whose p(given label) is at most this value.")
f3.checkbox("Only predicted as another class", key="review_mispredicted")
f4.checkbox("Only likely label issues", key="review_issues",
            help="Confident learning: p(given) below its class threshold and another class at/above its own.")
state = st.session_state
queue = filter_order(s, queue_order(table, state["review_queue"]), klass=state["review_class"],
                     mispredicted_only=state["review_mispredicted"], issues_only=state["review_issues"],
                     max_p_given=state["review_threshold"])
judged = set(latest)
reviewed = int(np.isin(queue, list(judged)).sum())
st.progress(reviewed / len(queue) if len(queue) else 1.0, text=f"{reviewed} reviewed / {len(queue)} in queue")
st.dataframe(issues_table(s, names), width="stretch")
st.caption("Likely label issues per class: p(given label) below the class threshold (the mean p(k) over the "
           "images labelled k) while another class reaches its own threshold.")

message = st.session_state.pop("review_message", None)
if message:
    (st.error if message[0] == "error" else st.toast)(md_escape(message[1]))

if st.session_state.get("review_for_run") != (run_id, split):  # the page's first run (the link's image), or a
    first = "review_for_run" not in st.session_state              # new run or split
    st.session_state["review_for_run"] = (run_id, split)
    st.session_state[IMAGE_KEY] = review_image() if first else None
    raw = param(IMAGE_PARAM) if first else None
    if raw is not None and (st.session_state[IMAGE_KEY] is None or st.session_state[IMAGE_KEY] not in queue):
        st.warning(f"Image {md_escape(repr(raw[:40]))} from the link is not in this queue; showing the first "
                   "unreviewed one.")
image = image_to_show(queue, judged, st.session_state[IMAGE_KEY])
st.session_state[IMAGE_KEY] = image
publish_review_view(image)


def record(verdict: str, image: int) -> None:
    """Button callback: save the verdict, clear the note, go to the next unreviewed image of the queue.

    It runs before the page does, with the run the page showed: if that run was deleted since, nothing is
    saved (the verdict would belong to no run), and the page then says which run it shows instead."""
    if run_id not in {r.run_id for r in finished_runs()}:
        st.session_state["review_message"] = ("error", f"Verdict not saved: run {run_id} no longer exists (it "
                                              "was deleted while this page showed it). Nothing was recorded.")
        return
    corrected = st.session_state.get("review_corrected") if verdict == "label_wrong" else None
    try:
        store.add(run_id, data, image, current_reviewer(), verdict, corrected, st.session_state.get("review_note"),
                  num_samples=len(view.labels), num_classes=len(names), split=split)
    except (VerdictError, ReviewStoreError) as exc:
        st.session_state["review_message"] = ("error", f"Verdict not saved: {exc}")
        return
    st.session_state["review_note"] = ""
    st.session_state["review_message"] = ("ok", f"Saved {NOUN[split].lower()} {image}: {VERDICTS[verdict]}")
    following = next_unreviewed(queue, judged | {image}, after=image)
    st.session_state[IMAGE_KEY] = following if following is not None else image


def go(image: int | None) -> None:
    if image is not None:
        st.session_state[IMAGE_KEY] = image


if image is None:
    st.info(empty_reason(table, state["review_queue"]))
else:
    given, predicted = int(view.labels[image]), int(view.predicted[image])
    position, previous, following = neighbours(queue, image)
    left, right = st.columns([1, 2])
    left.image(enlarge(view.images[image], 280), caption=f"{NOUN[split]} {image} ({position + 1} of {len(queue)})")
    if split == "test":  # the Network page shows test images
        open_in_network(view.info.run_id, int(image), left)
    with right:
        m1, m2, m3 = st.columns(3)
        m1.metric("Given label", md_escape(names[given]))
        m2.metric("Predicted", md_escape(names[predicted]))
        m3.metric("p(given label)", f"{view.p_given[image]:.3f}")
        if s.issue[image]:
            st.warning(f"Likely label issue: p({md_escape(names[given])}) = {view.p_given[image]:.3f} is below the "
                       f"class threshold {s.thresholds[given]:.3f}, and class {md_escape(names[s.suggested[image]])} "
                       "reaches its own.")
        st.plotly_chart(probability_chart(view.probs[image], given, s.thresholds, names), key="review_chart",
                        config={"displayModeBar": False})
    group = group_of(table, image)
    if len(group) > 1:  # a near-duplicate group, side by side
        st.markdown(f"**Near-duplicate group of {len(group)} images**")
        for col, member in zip(st.columns(min(len(group), 6)), group[:6], strict=False):
            col.image(enlarge(view.images[member], 112),
                      caption=f"#{member}: {md_escape(names[view.labels[member]])}")
    if image in latest:
        v = latest[image]
        mine = v.reviewer == reviewer
        whose = "Your" if mine else f"{md_escape(v.reviewer)}'s"
        (st.success if mine else st.info)(f"{whose} latest verdict: {md_escape(describe(v, names))}")

    options = [k for k in range(len(names)) if k != given]
    if st.session_state.get("review_corrected_for") != image:  # a new image: suggest its likely true label
        st.session_state["review_corrected"] = suggested_label(s, image)
        st.session_state["review_corrected_for"] = image
    c1, c2 = st.columns([1, 3])
    c1.selectbox("Corrected label", options, format_func=names.__getitem__, key="review_corrected",
                 help="Recorded with 'Label is wrong'.")
    c2.text_input("Note (optional)", key="review_note", max_chars=MAX_NOTE, placeholder="e.g. looks like a 7")
    buttons = st.columns(6)
    for col, (verdict, key) in zip(buttons, SHORTCUTS.items(), strict=False):
        col.button(VERDICTS[verdict].capitalize(), key=f"review_{verdict}", shortcut=key, on_click=record,
                   args=(verdict, image), disabled=not reviewer, width="stretch",
                   type="primary" if verdict == "label_wrong" else "secondary")
    buttons[4].button("Previous", key="review_prev", shortcut="P", on_click=go, width="stretch",
                      args=(previous,), disabled=previous is None)
    buttons[5].button("Next", key="review_next", shortcut="N", on_click=go, width="stretch",
                      args=(following,), disabled=following is None)
    if not reviewer:
        st.warning(f"{ASK_NAME[0].upper()}{ASK_NAME[1:]} to give verdicts.")
    earlier = [v for v in history if v.index == image]
    with st.expander(f"History of image {image} ({len(earlier)} verdicts)"):
        for v in earlier:
            st.text(f"{v.created_at:%Y-%m-%d %H:%M:%S} UTC · {v.reviewer}: {describe(v, names)}")

with st.expander(f"Queue ({len(queue)} images)"):
    st.dataframe(queue_table(s, queue, latest, names), hide_index=True, width="stretch")

st.subheader("Export")
try:
    rows = export_rows(history, view.probs, view.labels, names)
    corrections = format_corrections(data, review_corrections(store.history(run_id, split=None), data,
                                                              view.info.config.get("label_corrections", "")))
except (ValueError, CorrectionsError) as exc:
    st.error(f"Cannot export this run's verdicts: {md_escape(exc)}")
else:
    d1, d2, d3 = st.columns(3)
    d1.download_button(f"Verdicts on {split} images (CSV)", rows_to_csv(rows), f"review-{run_id}-{split}.csv",
                       "text/csv", key="review_download_csv", on_click="ignore", width="stretch")
    d2.download_button(f"Verdicts on {split} images (JSON)", rows_to_json(rows), f"review-{run_id}-{split}.json",
                       "application/json",
                       key="review_download_json", on_click="ignore", width="stretch")
    d3.download_button("Corrected labels (for retraining)", corrections, f"corrections-{run_id}.csv", "text/csv",
                       key="review_download_corrections", on_click="ignore", width="stretch",
                       help="Training and test rows. Train with it: python -m mnist_core.train "
                            "--label-corrections FILE, or press Retrain below.")

retrain_section(test_view, store)
before_after_section(test_view)
