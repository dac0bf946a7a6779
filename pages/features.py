import pages.shared  # noqa: F401 - first: waits for the server's one-thread preload (see there)
import streamlit as st

from pages.shared.feature_map_view import before_and_now, colour_choice, current_map, gap_verdict
from pages.shared.run_picker import pick_run
from pages.shared.setup import page_setup
from tlcore.embed.snapshots import coordinates, layout_pending, signature
from tlcore.plots import gap_figure, replay_figure
from tlcore.run_record import LIVE

POLL_SECONDS = 0.5  # only a directory listing: the page reruns when a snapshot or layout arrives

store = page_setup("Features")
st.caption("Source and target images as the network sees them: each point is one probe image, placed by its "
           "features. Watch the domains draw together and the classes separate as transfer happens.")
run = pick_run(store) if store is not None else None
if run is None:
    st.info("No run yet. Start one on the Train page: its feature map appears here before the first step. "
            "The Data page maps your data with the pretrained backbone before any training.")
    st.page_link("pages/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()

folder = run.files.snapshots
colour_by = colour_choice("feat.colour")


def draw(status: str, sig: tuple) -> None:
    probe, snapshots = current_map(folder, sig)
    if probe is None or not snapshots:
        st.info("The first snapshot (the pretrained view) is taken before the first training step."
                if status in LIVE else
                "This run has no feature map (it was trained with maps off, or before they existed).")
        return
    before_and_now(folder, probe, snapshots, colour_by, "ui.features")
    if any(k.startswith("twin.") for k in (store.get(run.id).summary or {})):
        st.caption("For this adaptation run, the pretrained map is also source only's: its source-only twin (the "
                   "verdict on the Train and Evaluate pages) classifies exactly those features, so the two maps "
                   "side by side are source only and this method.")
    laid_out = [s for s in snapshots if s.get("gap")]
    if len(laid_out) > 1:
        st.plotly_chart(gap_figure(laid_out), width="stretch", key="ui.features.gap")
    elif laid_out:
        st.caption(gap_verdict(laid_out[0]["gap"]))
    # On request: an animation of every snapshot is the heaviest thing for the browser to draw.
    if len(snapshots) > 1 and st.toggle("Replay: how the map changed, epoch by epoch", key="feat.replay"):
        with st.container(border=True):
            layouts = [coordinates(s) for s in snapshots]
            st.plotly_chart(replay_figure([xy for xy, _ in layouts], [s["epoch"] for s in snapshots], probe,
                                          colour_by, [k for _, k in layouts]), width="stretch",
                            key="ui.features.replay")
    if probe.get("weight"):
        st.caption("Marker size: each source image's instance weight (how target-like it looked to the "
                   "domain classifier); target images are drawn at the mean size.")


def watch(run_id: str, seen: tuple, was_live: bool) -> None:
    """Polls cheaply (a directory listing and one row); reruns the page when there is news."""
    live_now = store.get(run_id).status in LIVE or layout_pending(folder)
    if signature(folder) != seen or (was_live and not live_now):
        st.rerun()


sig = signature(folder)
draw(run.status, sig)
if run.status in LIVE or layout_pending(folder):
    st.fragment(run_every=POLL_SECONDS)(watch)(run.id, sig, True)
