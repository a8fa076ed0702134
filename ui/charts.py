"""Plotly figures shared by the pages: class probabilities, a clickable confusion matrix, histograms."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


def probability_bars(probs: np.ndarray, class_names: list[str], highlight: int | None = None) -> go.Figure:
    colors = ["#2ea043" if i == highlight else "#4c78a8" for i in range(len(class_names))]
    fig = go.Figure(go.Bar(x=class_names, y=probs, marker_color=colors, text=[f"{p:.3f}" for p in probs],
                           textposition="outside"))
    fig.update_layout(yaxis_range=[0, 1.1], yaxis_title="probability", xaxis_title="class", height=320,
                      margin=dict(t=30, b=40), xaxis_type="category")
    return fig


def confusion_figure(confusion: np.ndarray, class_names: list[str]) -> go.Figure:
    """A heatmap drawn as square markers: Plotly selections work on scatter points, not on heatmap cells."""
    n = len(class_names)
    true, pred = np.divmod(np.arange(n * n), n)
    counts = confusion[true, pred]
    shade = np.log1p(counts) / np.log1p(max(1, counts.max()))
    fig = go.Figure(go.Scatter(
        x=pred, y=true, mode="markers+text", text=[str(c) if c else "" for c in counts],
        customdata=np.stack([true, pred, counts], axis=1), marker=dict(
            symbol="square", size=max(14, 360 // n), color=shade, colorscale="Blues", showscale=False,
            line=dict(width=np.where(true == pred, 0, 1), color="#da3633")),
        hovertemplate="true %{customdata[0]}, predicted %{customdata[1]}: %{customdata[2]} images<extra></extra>"))
    ticks = dict(tickmode="array", tickvals=list(range(n)), ticktext=class_names)
    fig.update_layout(xaxis=dict(title="predicted", **ticks), yaxis=dict(title="true", autorange="reversed", **ticks),
                      height=420, margin=dict(t=30), clickmode="event+select", dragmode=False)
    return fig


def probability_histogram(values: np.ndarray, threshold: float, title: str, bins: int = 20,
                          height: int = 360) -> go.Figure:
    """Counts binned on the server (bars, not raw values): small to send, quick to rerun."""
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    fig = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=1.0 / bins * 0.95,
                           marker_color="#4c78a8", hovertemplate="p in [%{x:.2f}±0.025]: %{y}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="probability", yaxis_title="Number of occurrences",
                      xaxis_range=[0, 1], height=height, margin=dict(t=40), shapes=[dict(
                          type="line", x0=threshold, x1=threshold, y0=0, y1=1, yref="y domain",
                          line=dict(color="#da3633", width=2))])  # add_vline costs 13 ms a rerun
    return fig


def histogram_grid(labels: np.ndarray, probs: np.ndarray, class_names: list[str], threshold: float,
                   bins: int = 20) -> go.Figure:
    """Small multiples: p(k | image) over the images of true class k, for every class k.

    Axes and threshold lines are laid out in one go: make_subplots plus add_vline per panel is 30x slower.
    """
    n = len(class_names)
    cols = min(5, n)
    rows = -(-n // cols)
    gap_x, gap_y = 0.03, 0.12 / rows
    width, height = (1 - gap_x * (cols - 1)) / cols, (1 - gap_y * (rows - 1)) / rows
    traces, layout, shapes, titles = [], {}, [], []
    for k in range(n):
        counts, edges = np.histogram(probs[labels == k, k], bins=bins, range=(0.0, 1.0))
        r, c = divmod(k, cols)
        ax = "" if k == 0 else str(k + 1)
        x0, y1 = c * (width + gap_x), 1 - r * (height + gap_y)
        layout[f"xaxis{ax}"] = dict(domain=[x0, x0 + width], range=[0, 1], anchor=f"y{ax}")
        layout[f"yaxis{ax}"] = dict(domain=[y1 - height, y1], type="log", anchor=f"x{ax}")
        traces.append(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=0.95 / bins, marker_color="#4c78a8",
                             showlegend=False, xaxis=f"x{ax}", yaxis=f"y{ax}"))
        shapes.append(dict(type="line", x0=threshold, x1=threshold, y0=0, y1=1, xref=f"x{ax}",
                           yref=f"y{ax} domain", line=dict(color="#da3633", width=2)))
        titles.append(dict(text=f"class {class_names[k]}", x=x0 + width / 2, y=y1, xref="paper", yref="paper",
                           showarrow=False, yanchor="bottom"))
    return go.Figure(traces, layout=dict(layout, shapes=shapes, annotations=titles, height=220 * rows,
                                         margin=dict(t=40, b=20)))
