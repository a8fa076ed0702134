"""Who is reviewing: the deployment's login (st.user) when it has one, else a name asked once per session.

app.py calls `reviewer_sidebar()` inside its `with st.sidebar:` block on every page; the Review page reads
`current_reviewer()` and refuses verdicts until it is non-empty.
"""
from __future__ import annotations

import streamlit as st

from mnist_core.review_store import MAX_REVIEWER

REVIEWER_KEY = "reviewer_name"  # session_state key of the reviewer's name (not a widget key)
NAME_WIDGET = "review_reviewer"


def logged_in_name() -> str:
    """The signed-in user's name (or email) when the deployment has login (st.login); '' otherwise."""
    if not st.user.get("is_logged_in"):
        return ""
    return str(st.user.get("name") or st.user.get("email") or "").strip()


def reviewer_sidebar() -> str:
    """Show who reviews, asking for a name when there is no login; return it ('' until given)."""
    name = logged_in_name()
    if name:
        st.caption(f"Reviewing as **{name}**")
    else:
        if NAME_WIDGET not in st.session_state:  # e.g. after a page change cleared the widget
            st.session_state[NAME_WIDGET] = st.session_state.get(REVIEWER_KEY, "")
        name = st.text_input("Your name (for reviews)", key=NAME_WIDGET, max_chars=MAX_REVIEWER,
                             placeholder="e.g. Ada Lovelace",
                             help="Recorded with every verdict you give on the Review page.").strip()
    st.session_state[REVIEWER_KEY] = name
    return name


def current_reviewer() -> str:
    return logged_in_name() or str(st.session_state.get(REVIEWER_KEY, "")).strip()
