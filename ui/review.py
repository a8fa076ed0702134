"""What the Review page draws: a verdict in words, the probability chart, the per-class and queue tables.

The review store it writes to is opened in ui/state.py; its view in the link is kept by ui/url.py.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from mnist_core.review.store import VERDICTS, Verdict
from mnist_core.review.suspects import Suspects
from ui.charts import chart_texts


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
