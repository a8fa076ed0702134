"""Network page: inside the selected run's network. Its layers (output shape, parameters, multiply-adds), the
first convolution's filters, and for one image (a test image by index, ?index=N, or the drawing from the Draw
page, ?source=drawing) the feature maps of every convolution and Captum attributions for the predicted and the
given class.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from ui.network_view import (
    DRAWING_KEY,
    cached_layers,
    filters_png,
    inside,
    predict_one,
    show_attributions,
    show_feature_maps,
)
from ui.state import require_run_view
from ui.url import publish

view = require_run_view()
names, n = view.class_names, len(view.labels)
st.header("Network")
st.caption(f"Run {view.info.run_id} · architecture {view.info.config.get('architecture')} · {len(names)} classes")

mtime = (view.info.path / "model.pt").stat().st_mtime
layers = cached_layers(str(view.info.path), mtime)
st.subheader(f"Layers · {layers['parameters'].sum():,} parameters · {layers['mult-adds'].sum():,} multiply-adds "
             "per image")
st.dataframe(layers, hide_index=True, column_config={"parameters": st.column_config.NumberColumn(format="localized"),
                                                     "mult-adds": st.column_config.NumberColumn(format="localized")})
st.markdown("**The first convolution's filters** (each stretched to black..white)")
st.image(filters_png(view.info.path))

st.subheader("One image through the network")
drawing = st.session_state.get(DRAWING_KEY)
if st.query_params.get("source") == "drawing" and drawing is None:
    st.info("No drawing in this session yet: draw a digit on the Draw page, then open it here.")
use_drawing = drawing is not None and st.toggle("Use my drawing from the Draw page", key="net_use_drawing",
                                                value=st.query_params.get("source") == "drawing")
if "net_index" not in st.session_state and "index" in st.query_params:
    raw = st.query_params["index"]
    if raw.isdigit() and int(raw) < n:
        st.session_state["net_index"] = int(raw)
    else:  # a hand-edited or stale link: say so and start from the first image
        st.warning(f"Image index {raw[:20]!r} from the link is not a test image of this run: it has {n:,} test "
                   f"images, 0 to {n - 1:,}. Showing image 0.")
if use_drawing:
    image, given, index = np.asarray(drawing, dtype=np.uint8), None, -1
    probs = predict_one(view.info.path, image)
    publish(source="drawing", index=None)
else:
    index = int(st.number_input(f"Test image index (0 to {n - 1:,})", 0, n - 1, key="net_index"))
    image, given, probs = view.images[index], int(view.labels[index]), view.probs[index]
    publish(source=None, index=index)
predicted = int(np.argmax(probs))
result = inside(view.info.path, image, tuple(dict.fromkeys(t for t in (predicted, given) if t is not None)), index)
left, right = st.columns([1, 3])
title = "your drawing" if given is None else f"test image #{index}, given {names[given]}"
left.image(np.kron(image, np.ones((6, 6), dtype=np.uint8)))
left.caption(f"{title}: predicted {names[predicted]} (p = {probs[predicted]:.1%})")
with right:
    why = {predicted: "predicted" + (" and given" if given == predicted else "")}
    if given is not None and given != predicted:
        why[given] = "given label"
    show_attributions(image, result["attr"], names, why)
st.markdown("**Feature maps of every convolution** (each conv's output, before its activation)")
show_feature_maps(result["maps"])
