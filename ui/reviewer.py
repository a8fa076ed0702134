"""Who is reviewing: the deployment's login (st.user) when it has one, else a name typed in the sidebar.

The typed name is kept in the URL (?reviewer=), so a reload or a bookmark keeps it until a login replaces
it. app.py calls `reviewer_sidebar()` inside its `with st.sidebar:` block on every page; the Review page
reads `current_reviewer()` and refuses verdicts until it is non-empty.
"""
from __future__ import annotations

import streamlit as st

from mnist_core.review.store import MAX_REVIEWER, VerdictError, clean_reviewer
from ui.text import md_escape
from ui.url import publish

REVIEWER_KEY = "reviewer_name"  # session_state key of the reviewer's name (not a widget key)
NAME_WIDGET = "review_reviewer"
REVIEWER_PARAM = "reviewer"  # URL parameter of the typed name


def logged_in_name() -> str:
    """The signed-in user's name (or email) when the deployment has login (st.login); '' otherwise."""
    if not st.user.get("is_logged_in"):
        return ""
    return str(st.user.get("name") or st.user.get("email") or "").strip()


def reviewer_sidebar() -> str:
    """Show who reviews, asking for a name when there is no login; return it ('' until given)."""
    name = logged_in_name()
    if name:
        st.caption(f"Reviewing as **{md_escape(name)}**")
        publish(**{REVIEWER_PARAM: None})  # the login replaces the typed name
    else:
        if NAME_WIDGET not in st.session_state:  # a new session (a reload), or a page change cleared the widget
            st.session_state[NAME_WIDGET] = st.session_state.get(REVIEWER_KEY) or url_reviewer()
        name = st.text_input("Your name (for reviews)", key=NAME_WIDGET, max_chars=MAX_REVIEWER,
                             placeholder="e.g. Ada Lovelace",
                             help="Recorded with every verdict you give on the Review page. Kept in the "
                                  "page's address (?reviewer=), so a reload keeps it.").strip()
        publish(**{REVIEWER_PARAM: url_value(name)})
    st.session_state[REVIEWER_KEY] = name
    return name


def url_reviewer() -> str:
    """The link's ?reviewer= when it is a valid name, else ''."""
    try:
        return clean_reviewer(st.query_params.get(REVIEWER_PARAM, ""))
    except VerdictError:
        return ""


def url_value(name: str) -> str | None:
    """What goes into ?reviewer= for a typed name: nothing for an empty or invalid one."""
    try:
        return clean_reviewer(name) or None
    except VerdictError:
        return None


def current_reviewer() -> str:
    return logged_in_name() or str(st.session_state.get(REVIEWER_KEY, "")).strip()
