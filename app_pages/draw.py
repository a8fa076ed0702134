"""Draw: draw a digit with a mouse or a finger and see how the selected model reads it, class by class.

The drawing becomes an MNIST-style 28x28 digit (mnist_core.draw: crop to the ink, fit 20x20, centre of
mass in the middle) and is predicted with predict_proba, normalised like the run's training data.

    streamlit run app.py        # then open "Draw"
"""
from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitAPIException

from mnist_core.draw import DrawingError, predict_drawing
from ui.charts import probability_bars
from ui.grid import enlarge
from ui.network_view import DRAWING_KEY, inside, show_attributions
from ui.state import require_net
from ui.text import md_escape
from ui.url import open_in_network

CANVAS_PX = 280  # 10x MNIST's 28 px: room for a finger, and the same shape
PREVIEW_PX = 168  # the 28x28 input shown 6x, pixels kept sharp
ROUND_KEY = "draw_round"  # session_state counter: a new canvas key gives a fresh, empty canvas

try:
    from streamlit_drawable_canvas import st_canvas
except (ImportError, StreamlitAPIException) as exc:
    st.error(f"The drawing canvas is unavailable ({exc}). Install it with `pip install -r requirements.txt`.")
    st.stop()


def clear_canvas() -> None:
    st.session_state[ROUND_KEY] = st.session_state.get(ROUND_KEY, 0) + 1


st.header("Draw a digit")
info, net, meta = require_net()
class_names = list(meta["class_names"])
st.caption(f"Model: run {md_escape(info.run_id)} · trained on {md_escape(meta.get('data'))} · {len(class_names)} "
           "classes. Draw in the black square; the prediction updates each time you lift the pen.")
st.space("medium")  # the canvas's toolbar shows 2.65rem above the canvas on hover: keep it off the caption

draw_col, result_col = st.columns(2, gap="large")
with draw_col:
    pen = st.session_state.get("draw_pen", 20)  # the slider sits under the canvas, clear of its toolbar
    canvas = st_canvas(stroke_width=pen, stroke_color="#FFFFFF", background_color="#000000",
                       height=CANVAS_PX, width=CANVAS_PX, drawing_mode="freedraw", return_image_data=True,
                       key=f"draw_canvas_{st.session_state.get(ROUND_KEY, 0)}")
    st.slider("Pen width", 8, 40, 20, key="draw_pen", width=CANVAS_PX,
              help="Canvas pixels. MNIST strokes are about a tenth of the digit's height.")
    st.button("Clear", key="draw_clear", icon=":material/delete:", on_click=clear_canvas,
              help="Start again on an empty canvas (the canvas's bin icon does the same).")

with result_col:
    try:
        result = predict_drawing(net, canvas.image_data, meta["mean"], meta["std"])
    except DrawingError as exc:
        st.error(f"The canvas sent an image that cannot be read: {exc}")
        st.stop()
    if result is None:
        st.info("Draw a digit in the black square.")
    else:
        st.metric("Prediction", md_escape(class_names[result.predicted]), f"p = {result.confidence:.1%}",
                  delta_color="off", delta_arrow="off")
        st.plotly_chart(probability_bars(result.probs, class_names, highlight=result.predicted), key="draw_probs")
        st.image(enlarge(result.image, PREVIEW_PX), width=PREVIEW_PX,
                 caption="What the model sees: your drawing as a 28x28 MNIST digit")
        st.session_state[DRAWING_KEY] = result.image  # for the Network page: attributions and feature maps
        open_in_network(info.run_id)
        if st.toggle("Why? Attributions of the prediction", key="draw_why",
                     help="Integrated Gradients, Occlusion and Saliency (Captum): which pixels made this class."):
            why = inside(info.path, result.image, (result.predicted,))
            show_attributions(result.image, why["attr"], class_names, {result.predicted: "predicted"})
