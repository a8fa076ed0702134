"""Plotly figures shared by the pages: class probabilities, a clickable confusion matrix, histograms.

Class names come from whoever imported a dataset: every text a figure shows goes through `chart_text`, so
Plotly's pseudo-HTML (<a href>, <b>, ...) in a name is shown as typed, never as a link.
"""
from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go
from plotly.colors import sample_colorscale, unlabel_rgb


def chart_text(text) -> str:
    """Text for a Plotly label: its pseudo-HTML tags and entities escaped (Plotly decodes &lt; back to <)."""
    return html.escape(str(text), quote=False)


def chart_texts(names: list[str]) -> list[str]:
    return [chart_text(n) for n in names]


def probability_bars(probs: np.ndarray, class_names: list[str], highlight: int | None = None) -> go.Figure:
    colors = ["#2ea043" if i == highlight else "#4c78a8" for i in range(len(class_names))]
    fig = go.Figure(go.Bar(x=chart_texts(class_names), y=probs, marker_color=colors, text=[f"{p:.3f}" for p in probs],
                           textposition="outside"))
    fig.update_layout(yaxis_range=[0, 1.1], yaxis_title="probability", xaxis_title="class", height=320,
                      margin=dict(t=30, b=40), xaxis_type="category")
    return fig


def accuracy_bars(per_class_accuracy: list[float], class_names: list[str]) -> go.Figure:
    fig = go.Figure(go.Bar(x=chart_texts(class_names), y=per_class_accuracy, marker_color="#4c78a8",
                           text=[f"{a:.1%}" for a in per_class_accuracy], textposition="outside"))
    low = min(per_class_accuracy) if per_class_accuracy else 0.0
    fig.update_layout(title="Accuracy per class", xaxis_type="category", xaxis_title="true class",
                      yaxis=dict(title="accuracy", range=[max(0.0, low - 0.05), 1.01], tickformat=".0%"),
                      height=420, margin=dict(t=40))
    return fig


def confusion_figure(confusion: np.ndarray, class_names: list[str]) -> go.Figure:
    """A heatmap drawn as square markers: Plotly selections work on scatter points, not on heatmap cells.

    Marker i is the cell (true, predicted) = divmod(i, n): `confusion_cell` reads a click back from its index.
    """
    n = len(class_names)
    true, pred = np.divmod(np.arange(n * n), n)
    counts = confusion[true, pred]
    shade = np.log1p(counts) / np.log1p(max(1, counts.max()))
    fig = go.Figure(go.Scatter(
        x=pred.tolist(), y=true.tolist(), mode="markers+text", text=[str(c) if c else "" for c in counts],
        textfont=dict(color=text_colors("Blues", shade)),
        customdata=np.stack([true, pred, counts], axis=1).tolist(), marker=dict(
            symbol="square", size=max(14, 360 // n), color=shade, colorscale="Blues", cmin=0, cmax=1,
            showscale=False, line=dict(width=np.where(true == pred, 0, 1), color="#da3633")),
        hovertemplate="true %{customdata[0]}, predicted %{customdata[1]}: %{customdata[2]} images<extra></extra>"))
    ticks = dict(tickmode="array", tickvals=list(range(n)), ticktext=chart_texts(class_names))
    fig.update_layout(xaxis=dict(title="predicted", **ticks), yaxis=dict(title="true", autorange="reversed", **ticks),
                      height=420, margin=dict(t=30), clickmode="event+select", dragmode=False)
    return fig


def confusion_cell(point: dict, n: int) -> tuple[int, int] | None:
    """(true, predicted) of a clicked confusion_figure marker, or None for a point that is not one.

    The marker's index is read, not its customdata: how customdata arrives depends on the versions (plotly 6+
    sends numpy arrays as typed arrays, which reach Streamlit as {"0": .., "1": ..} objects, not lists).
    """
    index = point.get("point_index", point.get("point_number"))
    if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < n * n:
        return divmod(index, n)
    x, y = point.get("x"), point.get("y")
    if all(isinstance(v, int | float) and float(v).is_integer() and 0 <= v < n for v in (x, y)):
        return int(y), int(x)
    return None


def text_colors(colorscale: str, shade: np.ndarray) -> list[str]:
    """Black or white per cell, whichever contrasts more with the cell's colour (WCAG relative luminance)."""
    colors = []
    for rgb in sample_colorscale(colorscale, np.clip(shade, 0, 1).tolist()):
        channels = [c / 255 for c in unlabel_rgb(rgb)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
        # Contrast with black is (L + 0.05) / 0.05, with white 1.05 / (L + 0.05): equal at L = 0.179.
        colors.append("#111111" if luminance > 0.179 else "#ffffff")
    return colors


def probability_histogram(values: np.ndarray, threshold: float, title: str, bins: int = 20,
                          height: int = 360) -> go.Figure:
    """Counts binned on the server (bars, not raw values): small to send, quick to rerun."""
    counts, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    fig = go.Figure(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=1.0 / bins * 0.95,
                           marker_color="#4c78a8", hovertemplate="p in [%{x:.2f}±0.025]: %{y}<extra></extra>"))
    fig.update_layout(title=chart_text(title), xaxis_title="probability", yaxis_title="Number of occurrences",
                      xaxis_range=[0, 1], height=height, margin=dict(t=40), shapes=[dict(
                          type="line", x0=threshold, x1=threshold, y0=0, y1=1, yref="y domain",
                          line=dict(color="#da3633", width=2))])  # add_vline costs 13 ms a rerun
    return fig


def move_threshold(fig: go.Figure, threshold: float) -> go.Figure:
    """Move probability_histogram's threshold line in place: far cheaper than building a new figure."""
    fig.layout.shapes[0].update(x0=threshold, x1=threshold)
    return fig


def histogram_grid(probs: np.ndarray, labels: np.ndarray, class_names: list[str], threshold: float,
                   bins: int = 20) -> go.Figure:
    """Small multiples: p(k | image) over the images of true class k, for every class k.

    Axes and threshold lines are laid out in one go: make_subplots plus add_vline per panel is 30x slower.
    """
    n = len(class_names)
    cols = min(5, n)
    rows = -(-n // cols)
    # In pixels, then as fractions of the plot area: a panel's title and the x tick labels of the panel above
    # need about 30 px each, and a log axis's tick labels ("1000") about 35 px to the left of each panel.
    panel_px, gap_px, top_px, bottom_px = 170, 64, 40, 30
    plot_h = rows * panel_px + (rows - 1) * gap_px
    gap_x, gap_y = 0.05, gap_px / plot_h
    width, height = (1 - gap_x * (cols - 1)) / cols, panel_px / plot_h
    traces, layout, shapes, titles = [], {}, [], []
    for k in range(n):
        counts, edges = np.histogram(probs[labels == k, k], bins=bins, range=(0.0, 1.0))
        r, c = divmod(k, cols)
        ax = "" if k == 0 else str(k + 1)
        x0, y1 = c * (width + gap_x), 1 - r * (height + gap_y)
        layout[f"xaxis{ax}"] = dict(domain=[x0, x0 + width], range=[0, 1], anchor=f"y{ax}", tickfont=dict(size=10))
        layout[f"yaxis{ax}"] = dict(domain=[y1 - height, y1], type="log", anchor=f"x{ax}", tickfont=dict(size=10))
        traces.append(go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=0.95 / bins, marker_color="#4c78a8",
                             showlegend=False, xaxis=f"x{ax}", yaxis=f"y{ax}"))
        shapes.append(dict(type="line", x0=threshold, x1=threshold, y0=0, y1=1, xref=f"x{ax}",
                           yref=f"y{ax} domain", line=dict(color="#da3633", width=2)))
        titles.append(dict(text=f"class {chart_text(class_names[k])}", x=x0 + width / 2, y=y1, xref="paper",
                           yref="paper", showarrow=False, yanchor="bottom", yshift=4))
    return go.Figure(traces, layout=dict(layout, shapes=shapes, annotations=titles, height=plot_h + top_px + bottom_px,
                                         margin=dict(t=top_px, b=bottom_px)))
