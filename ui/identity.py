"""Who the visitor is: Streamlit's own login (st.login / st.user) when the deployment configures one, else nobody.

Login is on when `.streamlit/secrets.toml` (or the files `secrets.files` names) has an `[auth]` section: any
OpenID Connect provider (docs/deploy.md#login). Then the identity is st.user's email: it records verdicts,
owns runs and datasets, and MNIST_ADMINS decides who may delete (mnist_core/quotas.py). Without `[auth]` every
visitor may do everything, and the Review page takes a typed, unverified name (ui/reviewer.py).

    if identity.require_login("start a run"):   # draws a Log in button and returns False until logged in
        start_worker(config, runs_dir, data_dir, owner=identity.email())
"""
from __future__ import annotations

import streamlit as st

from mnist_core import quotas
from ui.text import md_escape


def login_on() -> bool:
    """True when the secrets have an [auth] section (st.login can work); False without a secrets file."""
    try:
        return bool(st.secrets.get("auth"))
    except FileNotFoundError:  # no secrets.toml at all: StreamlitSecretNotFoundError
        return False


def email() -> str:
    """The logged-in visitor's email; '' when logged out or when login is off (a typed name is no identity)."""
    if not login_on() or not st.user.get("is_logged_in"):
        return ""
    return str(st.user.get("email") or "").strip()


def may_delete() -> bool:
    """Without login everyone may delete runs and datasets; with login only the emails in MNIST_ADMINS."""
    return not login_on() or quotas.is_admin(email())


def may_cancel(owner: str) -> bool:
    """Without login anyone may cancel a run; with login its owner and the administrators."""
    return not login_on() or quotas.same_identity(owner, email()) or quotas.is_admin(email())


def delete_refusal() -> str:
    return ("Only administrators may delete: log in with an address listed in MNIST_ADMINS." if not email()
            else f"Only administrators may delete; {md_escape(email())} is not one of them (MNIST_ADMINS).")


def require_login(action: str, key: str) -> bool:
    """True when `action` may go ahead (login off, or a visitor with an email logged in); else says why and
    offers a Log in button (keyed `key`), and returns False."""
    if not login_on() or email():
        return True
    if st.user.get("is_logged_in"):  # a provider that sends no email claim: nothing to record the person by
        st.warning(f"Your login gave no email address, which this server needs to {action}.")
        return False
    st.info(f"Log in to {action}.", icon=":material/login:")
    st.button("Log in", key=key, on_click=st.login, type="primary")
    return False


def login_sidebar() -> None:
    """In the sidebar (login on): who is logged in and Log out, or a Log in button."""
    if email():
        st.caption(f"Logged in as **{md_escape(email())}**" + (" · administrator" if quotas.is_admin(email()) else ""))
        st.button("Log out", key="auth_logout", on_click=st.logout)
    else:
        st.caption("Log in to record verdicts and start runs.")
        st.button("Log in", key="auth_login", on_click=st.login, type="primary")
