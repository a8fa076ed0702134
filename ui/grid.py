"""Image grids as one picture: the notebook's 5x5 subplots with titles, drawn with PIL (fast to rerun)."""
from __future__ import annotations

import io

import numpy as np
import streamlit as st
from PIL import Image, ImageDraw, ImageFont

GREEN, RED, GREY = (46, 160, 67), (218, 54, 51), (90, 90, 90)


def render_grid(images: np.ndarray, titles: list[str], colors: list[tuple[int, int, int]] | None = None,
                cols: int = 5, scale: int = 4) -> Image.Image:
    """(n, 28, 28) uint8 images -> one RGB picture: cols per row, each with its title and a coloured frame."""
    n = len(images)
    rows = max(1, -(-n // cols))
    cell, pad, title_h = 28 * scale, 6, 22
    width, height = cols * (cell + 2 * pad), rows * (cell + 2 * pad + title_h)
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
