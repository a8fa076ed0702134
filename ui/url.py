"""Views in the URL: restore a widget's value from ?param= once, and write values back, so links share views."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st


def restore(key: str, param: str, cast: Callable = str, options: Sequence | None = None) -> None:
    """Before a widget is drawn: if it has no value yet and the URL has one, use the URL's (when valid)."""
    if key in st.session_state or param not in st.query_params:
        return
    try:
        value = cast(st.query_params[param])
    except (TypeError, ValueError):
        return
    if options is None or value in options:
        st.session_state[key] = value


def publish(**params) -> None:
    """Write the view's values into the URL (None removes a parameter)."""
    for name, value in params.items():
        if value is None:
            st.query_params.pop(name, None)
        elif st.query_params.get(name) != str(value):
            st.query_params[name] = str(value)
