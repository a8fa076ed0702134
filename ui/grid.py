"""Image grids as one picture: the notebook's 5x5 subplots with titles, drawn with PIL (fast to rerun).

`clickable_grid` shows such a picture in a Plotly chart with one invisible marker per image, so that a click
on an image opens it large with its class probabilities (`image_dialog`), as in FiftyOne.
"""
from __future__ import annotations

import base64
import io
from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from PIL import Image, ImageDraw, ImageFont

from ui.charts import chart_texts, probability_bars

GREEN, RED, GREY = (46, 160, 67), (218, 54, 51), (90, 90, 90)
PAD, TITLE_H = 6, 22  # pixels around each image, and above it for its title


def render_grid(images: np.ndarray, titles: list[str], colors: list[tuple[int, int, int]] | None = None,
                cols: int = 5, scale: int = 4) -> Image.Image:
    """(n, 28, 28) uint8 images -> one RGB picture: cols per row, each with its title and a coloured frame."""
    n = len(images)
    cell, pad, title_h = 28 * scale, PAD, TITLE_H
    width, height = grid_size(n, cols, scale)
    canvas = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default(size=14)
    colors = colors or [GREY] * n
    for i in range(n):
        r, c = divmod(i, cols)
        x0, y0 = c * (cell + 2 * pad), r * (cell + 2 * pad + title_h)
        draw.text((x0 + pad, y0 + 2), fit_text(titles[i], font, cell), fill=colors[i], font=font)
        tile = Image.fromarray(np.asarray(images[i], dtype=np.uint8)).resize((cell, cell), Image.NEAREST)
        top = y0 + title_h
        draw.rectangle([x0 + pad - 3, top - 3, x0 + pad + cell + 2, top + cell + 2], outline=colors[i], width=3)
        canvas.paste(tile.convert("RGB"), (x0 + pad, top))
    return canvas


def grid_size(n: int, cols: int = 5, scale: int = 4) -> tuple[int, int]:
    """(width, height) in pixels of render_grid's picture of n images."""
    rows = max(1, -(-n // cols))
    cell = 28 * scale
    return cols * (cell + 2 * PAD), rows * (cell + 2 * PAD + TITLE_H)


def image_centres(n: int, cols: int = 5, scale: int = 4) -> tuple[list[int], list[int]]:
    """x and y, in render_grid's pixels, of the centre of each of the n images."""
    cell = 28 * scale
    rows, columns = np.divmod(np.arange(n), cols)
    xs = columns * (cell + 2 * PAD) + PAD + cell // 2
    ys = rows * (cell + 2 * PAD + TITLE_H) + TITLE_H + cell // 2
    return xs.tolist(), ys.tolist()


def fit_text(text: str, font: ImageFont.ImageFont, width: int) -> str:
    """text, cut with an ellipsis where it would overflow `width` pixels (long class names)."""
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


@st.cache_data(max_entries=512, show_spinner=False)
def grid_png(images: np.ndarray, titles: list[str], colors: list[tuple[int, int, int]] | None = None,
             cols: int = 5, scale: int = 4) -> bytes:
    """render_grid as PNG bytes, cached: paging back or nudging a threshold often shows the same images."""
    return to_png(render_grid(images, titles, colors, cols, scale))


def to_png(image: Image.Image) -> bytes:
    """PNG bytes at the fastest compression level: reruns stay quick, and the pixels stay crisp."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def enlarge(image: np.ndarray, size: int = 280) -> Image.Image:
    return Image.fromarray(np.asarray(image, dtype=np.uint8)).resize((size, size), Image.NEAREST)


def grid_figure(png: bytes, hover: list[str], cols: int = 5, scale: int = 4, nonce: int = 0,
                shown_width: int | None = None) -> go.Figure:
    """render_grid's PNG as a Plotly chart, one invisible marker on each image: a click anywhere on an image
    selects its marker (the nearest one: no hover distance cut-off). `nonce` changes the chart's identity, so
    that after a click it comes back with nothing selected and the same image can be clicked again.

    shown_width: the chart's width in the page (default: the picture's own); the height keeps the picture's
    shape, since a Plotly chart's height is fixed and a narrower one would leave blank bands above and below."""
    width, height = grid_size(len(hover), cols, scale)
    shown_width = shown_width or width
    xs, ys = image_centres(len(hover), cols, scale)
    source = "data:image/png;base64," + base64.b64encode(png).decode()
    axis = dict(visible=False, fixedrange=True)
    trace = dict(type="scatter", x=xs, y=ys, mode="markers", hovertext=chart_texts(hover), hoverinfo="text",
                 marker=dict(size=28 * scale, symbol="square", opacity=0),
                 selected=dict(marker=dict(opacity=0)), unselected=dict(marker=dict(opacity=0)))
    layout = dict(
        images=[dict(source=source, xref="x", yref="y", x=0, y=0, sizex=width, sizey=height, sizing="stretch",
                     layer="below")],
        xaxis=dict(axis, range=[0, width]), yaxis=dict(axis, range=[height, 0], scaleanchor="x"),
        width=shown_width, height=round(shown_width * height / width), margin=dict(l=0, r=0, t=0, b=0),
        hovermode="closest", hoverdistance=-1, clickmode="event+select", dragmode=False, plot_bgcolor="white",
        meta=nonce)
    # Built from plain dicts in one go: validating the same figure through update_layout took 30-50 ms a rerun.
    return go.Figure(data=[trace], layout=layout)


def clickable_grid(png: bytes, indices: list[int], hover: list[str], key: str,
                   on_open: Callable[[int], None] | None = None, shown_width: int | None = None) -> None:
    """Show a grid (grid_png's bytes of the images `indices`); a click on an image opens it in image_dialog
    on the next run (see `clicked_image`) and calls on_open(index) first, e.g. to select it elsewhere too."""
    nonce = st.session_state.get(f"{key}_nonce", 0)

    def select() -> None:  # runs before the next script run
        points = st.session_state[key].selection.points
        position = points[0].get("point_index") if points else None
        if isinstance(position, int) and 0 <= position < len(indices):
            st.session_state[f"{key}_open"] = int(indices[position])
            st.session_state[f"{key}_nonce"] = nonce + 1
            if on_open is not None:
                on_open(int(indices[position]))

    st.plotly_chart(grid_figure(png, hover, nonce=nonce, shown_width=shown_width), key=key, on_select=select,
                    selection_mode="points", width="content", config={"displayModeBar": False})


@st.dialog("Test image", width="medium")
def image_dialog(image: np.ndarray, title: str, probs: np.ndarray, class_names: list[str], highlight: int) -> None:
    """One image large, its title (plain text: class names are user data) and its class probabilities."""
    st.text(title)
    st.image(enlarge(image, 280))
    st.plotly_chart(probability_bars(probs, class_names, highlight=highlight), key="grid_dialog_probs",
                    config={"displayModeBar": False})


def clicked_image(key: str) -> int | None:
    """The image a click on clickable_grid `key` asked to open, once (None when there was no new click)."""
    return st.session_state.pop(f"{key}_open", None)
