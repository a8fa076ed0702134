"""Views in the URL, so a link shows a colleague the same view: every page reads and writes ?param= here.

`restore` gives a widget the link's value once, before it is drawn (and says when the link's value is not
valid); `publish` writes the view's values back. The run the pages show is ?run=<id> (app.py's run picker);
the Review page's view is ?split=train&queue=<name>&class=<index>&mis=1&issues=1&threshold=<max p(given label)>
&image=<index in the split> (split: test, the default, or train; queue: a name in review.queues.QUEUES).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

RUN_PARAM = "run"
# The Review page: widget key -> URL parameter, and the shown image (a session_state key, not a widget).
REVIEW_PARAMS = {"review_class": "class", "review_mispredicted": "mis", "review_issues": "issues",
                 "review_threshold": "threshold", "review_split": "split", "review_queue": "queue"}
REVIEW_DEFAULTS = {"review_class": None, "review_mispredicted": False, "review_issues": False,
                   "review_threshold": 1.0, "review_split": "test", "review_queue": "quality"}
SPLIT_OPTIONS = ("test", "train")
IMAGE_KEY, IMAGE_PARAM = "review_image", "image"


def param(name: str) -> str | None:
    """The link's value of ?name=, None when absent."""
    return st.query_params.get(name)


def restore(key: str, param: str, cast: Callable = str, options: Sequence | None = None) -> str | None:
    """Before a widget is drawn: if it has no value yet and the URL has one, use the URL's (when valid).

    Returns the URL's raw value when it was there but not valid (cast failed or not among `options`), so the
    page can say so; None otherwise.
    """
    if key in st.session_state or param not in st.query_params:
        return None
    raw = st.query_params[param]
    try:
        value = cast(raw)
    except (TypeError, ValueError):
        return raw
    if options is not None and value not in options:
        return raw
    st.session_state[key] = value
    return None


def publish(**params) -> None:
    """Write the view's values into the URL (None removes a parameter)."""
    for name, value in params.items():
        if value is None:
            st.query_params.pop(name, None)
        elif st.query_params.get(name) != str(value):
            st.query_params[name] = str(value)


def seed_review_split(queues: Sequence[str]) -> list[str]:
    """Give the split and queue choices the link's values on the page's first run; return messages about bad
    values. Before the run's data is loaded: the split decides which images the page loads."""
    problems = []
    raw = restore("review_split", "split", options=SPLIT_OPTIONS)
    if raw is not None:
        problems.append(f"split={raw!r} in the link is not 'test' or 'train'; showing the test images.")
    raw = restore("review_queue", "queue", options=queues)
    if raw is not None:
        problems.append(f"queue={raw!r} in the link is not one of {', '.join(queues)}; showing the default.")
    for key in ("review_split", "review_queue"):
        st.session_state.setdefault(key, REVIEW_DEFAULTS[key])
    return problems


def seed_review_filters(num_classes: int) -> list[str]:
    """Give the Review filters the link's values on the page's first run; return messages about bad values."""
    problems = []
    raw = restore("review_class", "class", _index, options=range(num_classes))
    if raw is not None:
        problems.append(f"class={raw!r} in the link is not a class index 0..{num_classes - 1}; showing all.")
    raw = restore("review_threshold", "threshold", _unit)
    if raw is not None:
        problems.append(f"threshold={raw!r} in the link is not a number in [0, 1]; showing all.")
    for key in ("review_mispredicted", "review_issues"):
        restore(key, REVIEW_PARAMS[key], "1".__eq__)
    for key, value in REVIEW_DEFAULTS.items():
        st.session_state.setdefault(key, value)
    return problems


def _index(raw: str) -> int:
    if not raw.isdigit():
        raise ValueError(raw)
    return int(raw)


def _unit(raw: str) -> float:
    value = round(float(raw), 2)
    if not 0.0 <= value <= 1.0:
        raise ValueError(raw)
    return value


def publish_review_view(image: int | None) -> None:
    """Mirror the Review filters and the shown image into the URL (defaults are left out, to keep links short)."""
    klass, threshold = st.session_state.get("review_class"), st.session_state.get("review_threshold", 1.0)
    split, queue = st.session_state.get("review_split"), st.session_state.get("review_queue")
    publish(**{"split": None if split == REVIEW_DEFAULTS["review_split"] else split,
               "queue": None if queue == REVIEW_DEFAULTS["review_queue"] else queue,
               "class": klass, "mis": "1" if st.session_state.get("review_mispredicted") else None,
               "issues": "1" if st.session_state.get("review_issues") else None,
               "threshold": f"{threshold:g}" if threshold < 1.0 else None, IMAGE_PARAM: image})


def review_image() -> int | None:
    """The image index (in the split shown) in the link's ?image=, None when absent or not an index."""
    raw = param(IMAGE_PARAM)
    return int(raw) if raw is not None and raw.isdigit() else None


def open_in_network(run_id: str, index: int | None = None, container=st) -> None:
    """A one-click link to the Network page for test image `index`, or (None) for this session's drawing."""
    params = {"run": run_id, **({"index": index} if index is not None else {"source": "drawing"})}
    try:
        container.page_link("app_pages/network.py", label="Open in Network page", icon=":material/hub:",
                            query_params=params)
    except StreamlitPageNotFoundError:  # a page run on its own (AppTest.from_file): no navigation to link into
        pass
