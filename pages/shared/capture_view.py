"""A target set built from the browser's camera, class by class: the Data page's third way in,
and the Predict page's camera shot.

The set lives on disk (tlcore.data.CaptureSet); its id rides in the URL (?capture=ID) and in
the session, so a refresh of the Data page, or a trip to another page and back, finds it.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from tlcore.data import CaptureError, CaptureSet, is_capture_id, min_per_class

from .data_choice import choose

_THUMBS_PER_ROW = 6
NO_CAMERA = ("No picture? If the box above asks for access, allow the camera in the browser's address bar "
             "(cameras work only on localhost or https); without a camera, upload images instead.")
CAMERA_HELP = ("The browser asks once for the camera. If the camera is blocked or missing, the box says so: "
               "allow it from the address bar (cameras work only on localhost or https) or upload images instead.")


def camera_shot(key: str, label: str = "Take a picture"):
    """st.camera_input behind a switch, so a page does not ask for the camera until the user wants it.
    Returns the shot (an UploadedFile) or None."""
    if not st.toggle("Use the camera", key=f"{key}_on", help=CAMERA_HELP):
        return None
    picture = st.camera_input(label, key=key, help=CAMERA_HELP, width=400)
    st.caption(NO_CAMERA)
    return picture


def capture_widgets(root: Path) -> None:
    """Name a class, shoot it, look at the thumbnails, delete bad ones, use the set as the target."""
    capture = _open_capture(root)
    st.caption(f"Name a class, take its pictures, then the next class. Each class needs at least "
               f"{min_per_class()} pictures (one each to train, validate and test); 20 or more learn better.")
    capture = _add_class_form(root, capture)
    if capture is None or not capture.classes():
        return
    classes = list(capture.classes())
    if st.session_state.get("data.capture_class") not in classes:
        st.session_state["data.capture_class"] = classes[-1]
    counts = capture.counts()
    current = st.segmented_control("Capturing for class", classes, key="data.capture_class",
                                   format_func=lambda c: f"{c} ({counts.get(c, 0)})")
    camera, strips = st.columns([2, 3], gap="large")
    if current:
        shot_key = f"ui.capture_shot_{st.session_state.get('ui.capture_shots', 0)}"
        # A new key after each kept shot brings the camera back live for the next one, rather
        # than leaving the last picture on show until "Clear photo" is pressed.
        camera.camera_input(f"Take a picture of **{current}**", key=shot_key, help=CAMERA_HELP,
                            on_change=_keep_shot, args=(capture, current, shot_key))
        camera.caption(NO_CAMERA)
    if message := st.session_state.pop("ui.capture_error", None):
        camera.error(message)
    with strips:
        for name in classes:
            _class_strip(capture, name)
    _use_or_download(root, capture)


def _open_capture(root: Path) -> CaptureSet | None:
    """The set named in the URL, else the one this session made; None before the first class."""
    url_id = st.query_params.get("capture")
    set_id = url_id if is_capture_id(url_id) else st.session_state.get("data.capture_id")
    if url_id and not is_capture_id(url_id):
        st.query_params.pop("capture", None)
        st.warning("The link's capture-set id is not one (they are 16 hex digits); it was ignored.")
    if not set_id:
        return None
    try:
        capture = CaptureSet.open(root, set_id)
    except CaptureError as exc:
        st.warning(f"The earlier capture set cannot be opened ({exc}); start a new one.")
        st.query_params.pop("capture", None)
        st.session_state.pop("data.capture_id", None)
        return None
    _remember(capture)
    return capture


def _remember(capture: CaptureSet) -> None:
    st.session_state["data.capture_id"] = capture.id
    if st.query_params.get("capture") != capture.id:
        st.query_params["capture"] = capture.id


def _add_class_form(root: Path, capture: CaptureSet | None) -> CaptureSet | None:
    """The new-class box; returns the set (made by the first class added)."""
    with st.form("ui.capture_add_class", clear_on_submit=True, border=False):
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        name = c1.text_input("New class name", placeholder="e.g. mug", key="ui.capture_new_class")
        if c2.form_submit_button("Add class", icon=":material/add:"):
            try:
                capture = capture or CaptureSet.create(root)
                st.session_state["data.capture_class"] = capture.add_class(name)
                _remember(capture)
            except CaptureError as exc:
                st.error(str(exc))
    return capture


def _keep_shot(capture: CaptureSet, class_name: str, key: str) -> None:
    """on_change of the camera: keep the shot (checked like an upload) and re-arm the camera."""
    shot = st.session_state.get(key)
    if shot is None:  # the user cleared the picture
        return
    try:
        capture.add_image(class_name, shot.getvalue())
    except CaptureError as exc:
        st.session_state["ui.capture_error"] = str(exc)
    st.session_state["ui.capture_shots"] = st.session_state.get("ui.capture_shots", 0) + 1


def _safely(action, *args) -> None:
    """Run a button's change to the set; a failure (a full disk) becomes a message, not a traceback."""
    try:
        action(*args)
    except CaptureError as exc:
        st.session_state["ui.capture_error"] = str(exc)


@st.cache_data(max_entries=2000, show_spinner=False)
def _thumbnail(folder: str, name: str):
    return CaptureSet(Path(folder).parents[1], Path(folder).name).thumbnail(name, 96)  # names are content hashes


def _class_strip(capture: CaptureSet, class_name: str) -> None:
    names = capture.classes().get(class_name, [])
    needed = capture.still_needed().get(class_name, 0)
    head, delete = st.columns([3, 1], vertical_alignment="center")
    state = f":orange[{needed} more needed]" if needed else ":green[enough to train]"
    head.markdown(f"**{class_name}** · {len(names)} pictures · {state}")
    delete.button("Delete class", key=f"ui.capture_del_class_{class_name}", icon=":material/delete:",
                  on_click=_safely, args=(capture.delete_class, class_name))
    for start in range(0, len(names), _THUMBS_PER_ROW):
        for col, name in zip(st.columns(_THUMBS_PER_ROW), names[start:start + _THUMBS_PER_ROW]):
            try:
                col.image(_thumbnail(str(capture.folder), name), width="stretch")
            except (CaptureError, OSError) as exc:  # a file removed by hand: say so, keep the rest
                col.caption(f"unreadable: {exc}")
            col.button("", key=f"ui.capture_drop_{name}", icon=":material/close:", help="Delete this picture",
                       on_click=_safely, args=(capture.delete_image, class_name, name))


def _use_or_download(root: Path, capture: CaptureSet) -> None:
    problem = capture.problem()
    if problem:
        st.info(f"Not ready to train yet: {problem}.")
    c1, c2 = st.columns(2)
    if c1.button("Use these pictures as the target", key="ui.capture_use", type="primary",
                 disabled=problem is not None, icon=":material/check:"):
        try:
            with st.spinner("Checking the pictures…"):
                path, image_set = capture.keep(root)
        except CaptureError as exc:
            st.error(f"These pictures cannot be used: {exc}")
        else:
            total = sum(capture.counts().values())
            choose("target", str(path), f"camera ({total} pictures)")
            st.success(f"Using the camera set: {image_set.report.num_images:,} pictures in "
                       f"{image_set.num_classes} classes.")
    c2.download_button("Download as a zip of class folders", capture.to_zip, file_name=f"camera-{capture.id}.zip",
                       mime="application/zip", key="ui.capture_download", icon=":material/download:",
                       on_click="ignore", disabled=not any(capture.counts().values()))
