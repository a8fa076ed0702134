"""What the Review page draws: a verdict in words, the probability chart, the per-class and queue tables.

The review store it writes to is opened in ui/state.py; its view in the link is kept by ui/url.py.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

<<<<<<< HEAD
from mnist_core.review_store import VERDICTS, ReviewStore, Verdict, configured_db_url
from mnist_core.suspects import Suspects
from ui.charts import chart_texts
from ui.state import runs_dir

# Widget key -> URL parameter.
URL_PARAMS = {"review_class": "class", "review_mispredicted": "mis", "review_issues": "issues",
              "review_threshold": "threshold"}
IMAGE_KEY, IMAGE_PARAM = "review_image", "image"  # session_state (not a widget) and URL keys of the shown image


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


def seed_filters_from_url(num_classes: int) -> list[str]:
    """Give the filter widgets the link's values on the page's first run; return messages about bad values."""
    problems = []
    q = st.query_params
    if "review_class" not in st.session_state:
        raw = q.get("class")
        ok = raw is not None and raw.isdigit() and int(raw) < num_classes
        if raw is not None and not ok:
            problems.append(f"class={raw!r} in the link is not a class index 0..{num_classes - 1}; showing all.")
        st.session_state["review_class"] = int(raw) if ok else None
    for key in ("review_mispredicted", "review_issues"):
        if key not in st.session_state:
            st.session_state[key] = q.get(URL_PARAMS[key]) == "1"
    if "review_threshold" not in st.session_state:
        raw = q.get("threshold")
        value = _parse_unit(raw)
        if raw is not None and value is None:
            problems.append(f"threshold={raw!r} in the link is not a number in [0, 1]; showing all.")
        st.session_state["review_threshold"] = value if value is not None else 1.0
    return problems


def _parse_unit(raw: str | None) -> float | None:
    try:
        value = round(float(raw), 2)
    except (TypeError, ValueError):
        return None
    return value if 0.0 <= value <= 1.0 else None


def write_view_to_url(image: int | None) -> None:
    """Mirror the filters and the shown image into the URL (defaults are left out, to keep links short)."""
    klass, threshold = st.session_state.get("review_class"), st.session_state.get("review_threshold", 1.0)
    values = {"class": None if klass is None else str(klass),
              "mis": "1" if st.session_state.get("review_mispredicted") else None,
              "issues": "1" if st.session_state.get("review_issues") else None,
              "threshold": f"{threshold:g}" if threshold < 1.0 else None,
              IMAGE_PARAM: None if image is None else str(image)}
    for name, value in values.items():
        if value is None:
            st.query_params.pop(name, None)
        elif st.query_params.get(name) != value:
            st.query_params[name] = value


def url_image() -> int | None:
    raw = st.query_params.get(IMAGE_PARAM)
    return int(raw) if raw is not None and raw.isdigit() else None


def next_unreviewed(queue: np.ndarray, judged: set[int], after: int | None = None) -> int | None:
    """The first image of the queue after `after` (or from the start) with no verdict yet; None when none."""
    start = 0
    if after is not None and after in queue:
        start = int(np.flatnonzero(queue == after)[0]) + 1
    for i in queue[start:]:
        if int(i) not in judged:
            return int(i)
    return None
=======
from mnist_core.review.store import VERDICTS, Verdict
from mnist_core.review.suspects import Suspects
>>>>>>> layout


def describe(v: Verdict, class_names: list[str]) -> str:
    text = VERDICTS[v.verdict]
    if v.corrected_label is not None:
        text += f" → {class_names[v.corrected_label]}"
    return text + (f" ({v.note})" if v.note else "")


def probability_chart(probs: np.ndarray, given: int, thresholds: np.ndarray, class_names: list[str]) -> go.Figure:
    """Bars of p(class | image), the given label in orange, with each class's confident-learning threshold."""
    colors = ["#f28e2b" if k == given else "#4e79a7" for k in range(len(class_names))]
    names = chart_texts(class_names)  # an imported dataset's names: Plotly's pseudo-HTML shown as typed
    fig = go.Figure(go.Bar(x=names, y=probs, marker_color=colors, name="p(class | image)",
                           hovertemplate="class %{x}: %{y:.4f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=names, y=thresholds, mode="markers", name="class threshold",
                             marker=dict(symbol="line-ew-open", size=24, color="#333", line=dict(width=2))))
    fig.update_layout(height=280, margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(range=[0, 1.02]),
                      xaxis=dict(type="category"), legend=dict(orientation="h", y=-0.2), bargap=0.25)
    return fig


def issues_table(s: Suspects, class_names: list[str]) -> pd.DataFrame:
    """Per class: images, confident-learning threshold, likely label issues (one column per class)."""
    return pd.DataFrame({"images": s.class_counts(), "threshold": np.round(s.thresholds, 3),
                         "likely issues": s.issue_counts()}, index=class_names).T


def queue_table(s: Suspects, queue: np.ndarray, latest: dict[int, Verdict], class_names: list[str]) -> pd.DataFrame:
    verdict = [latest.get(int(i)) for i in queue]
    return pd.DataFrame({
        "image": queue, "given": [class_names[k] for k in s.labels[queue]],
        "predicted": [class_names[k] for k in s.predicted[queue]], "p(given)": s.p_given[queue],
        "likely issue": s.issue[queue], "verdict": [describe(v, class_names) if v else "" for v in verdict],
        "by": [v.reviewer if v else "" for v in verdict]})
