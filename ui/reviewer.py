"""Who is reviewing: the deployment's login (st.user's email, ui/identity.py) when it has one, else a name typed in
the sidebar, which the sidebar says is not verified.

With login on there is no name box: the email is shown, not editable, and a visitor who is not logged in
cannot record verdicts. The typed name is kept in the URL (?reviewer=), so a reload or a bookmark keeps it.
app.py calls `reviewer_sidebar()` inside its `with st.sidebar:` block on every page; the Review page
reads `current_reviewer()` and refuses verdicts until it is non-empty.
"""
from __future__ import annotations

import streamlit as st

from mnist_core.review.store import MAX_REVIEWER, VerdictError, clean_reviewer
from ui import identity
from ui.url import publish

REVIEWER_KEY = "reviewer_name"  # session_state key of the reviewer's name (not a widget key)
NAME_WIDGET = "review_reviewer"
REVIEWER_PARAM = "reviewer"  # URL parameter of the typed name


def reviewer_sidebar() -> str:
    """Show who reviews: the login (with Log in / Log out) when on, else a name box; return it ('' until given)."""
    if identity.login_on():
        identity.login_sidebar()
        name = identity.email()
        publish(**{REVIEWER_PARAM: None})  # the login replaces the typed name
    else:
        if NAME_WIDGET not in st.session_state:  # a new session (a reload), or a page change cleared the widget
            st.session_state[NAME_WIDGET] = st.session_state.get(REVIEWER_KEY) or url_reviewer()
        name = st.text_input("Your name (for reviews)", key=NAME_WIDGET, max_chars=MAX_REVIEWER,
                             placeholder="e.g. Ada Lovelace",
                             help="Recorded with every verdict you give on the Review page. Kept in the "
                                  "page's address (?reviewer=), so a reload keeps it.").strip()
        st.caption("Names are not verified: anyone can type any name. Configure a login to record who "
                   "really gave a verdict.")
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
    """Whom a verdict is recorded as: the login's email when login is on (never a typed name), else the name."""
    if identity.login_on():
        return identity.email()
    return str(st.session_state.get(REVIEWER_KEY, "")).strip()
