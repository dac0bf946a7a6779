"""Who this browser session is: the proxy's user, or a typed name; and the teacher unlock.

The name recorded as a run's owner comes from here (tlcore.runs.owners decides what it may
do). Behind a reverse proxy that authenticates users, and only when the server is told so
(TLSTUDIO_USER_HEADER or TLSTUDIO_TRUST_PROXY=1), the name is the proxy's and cannot be
changed here; otherwise it is typed once per browser session and proves nothing.
"""
from __future__ import annotations

import streamlit as st

from tlcore.runs.owners import (TEACHER_PASSWORD_ENV, Actor, clean_name, is_teacher_password, proxy_user,
                                teacher_password)

NAME_KEY = "owner.name"  # the typed name; "owner." keys are kept across pages (setup.py)
EVERYONE_KEY = "owner.everyone"  # the "everyone's runs" switch of the run lists
TEACHER_KEY = "auth.teacher"  # True once this session typed the teacher password


def current_actor() -> Actor:
    """This session as tlcore sees it: its name, whether a proxy vouches for it, teacher or not."""
    verified = proxy_user(st.context.headers)
    name = verified or clean_name(st.session_state.get(NAME_KEY))
    return Actor(name=name, verified=verified is not None, teacher=bool(st.session_state.get(TEACHER_KEY)))


def identity_sidebar() -> None:
    """The sidebar's 'you are' line: the proxy's user, else a box for a name; then the
    teacher unlock when a teacher password is set."""
    actor = current_actor()
    if actor.verified:
        st.markdown(f"**You are** `{actor.name}` (signed in through the proxy)")
    else:
        st.text_input("Your name", key=NAME_KEY, max_chars=64, placeholder="type it once",
                      help="Runs you start are recorded as yours, and the run lists show yours first. Typed, not "
                           "verified: anyone can type any name, so this keeps a class tidy, it does not keep "
                           "anyone out. A server behind an authenticating proxy takes the name from the proxy.")
        if actor.name:
            st.caption(f"You are `{actor.name}` (typed, not verified)")
        else:
            st.caption("No name: the runs you start are anyone's to stop.")
    _teacher_unlock(actor)


def _teacher_unlock(actor: Actor) -> None:
    expected = teacher_password()
    if expected is None:
        return
    if actor.teacher:
        st.caption("Teacher: you can stop, resume and delete every run.")
        if st.button("Lock teacher mode", key="ui.teacher_lock", icon=":material/lock:"):
            st.session_state[TEACHER_KEY] = False
            st.rerun()
        return
    with st.popover("Teacher", icon=":material/lock_open:"):
        typed = st.text_input("Teacher password", type="password", key="auth.teacher_password",
                              help=f"set on the server by {TEACHER_PASSWORD_ENV}; unlocks this browser session only")
        if typed:
            if is_teacher_password(typed, expected):
                st.session_state[TEACHER_KEY] = True
                st.session_state.pop("auth.teacher_password", None)
                st.rerun()
            st.error("Wrong teacher password.")
