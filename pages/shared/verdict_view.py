"""Did adaptation help? The verdict of tlcore.validators on an adaptation run's summary,
with its evidence: each label-free validator for the run and for its source-only twin."""
from __future__ import annotations

import streamlit as st

from tlcore.strategies.recommend import automatic_adaptation
from tlcore.validators import CHOSEN, SECOND, VALIDATORS, verdict

ICONS = {"likely helped": ":material/thumb_up:", "likely hurt": ":material/warning:",
         "cannot tell": ":material/help:"}
TWIN = ("The source-only twin is the optimal linear head on the source's pretrained features, computed with the run "
        "in seconds. It is the bar because it is hard to beat: on a held-back clip-art pair it reached 85.7% on the "
        "target where fine-tuning on the source reached 74.6%.")


def adaptation_verdict(summary: dict, key: str) -> None:
    """Nothing for a run without the validators (no source set, or an old run)."""
    twin = {k[len("twin."):]: v for k, v in summary.items() if k.startswith("twin.")}
    run = {k: v for k, v in summary.items() if k.startswith(("validators.", "gap."))}
    result = verdict(run, twin)
    if result is None:
        return
    box = {"likely helped": st.success, "likely hurt": st.error, "cannot tell": st.info}[result.label]
    box(f"**{result.headline}** Judged without target labels by the two validators with the smallest regret in the "
        f"da-select benchmark (BENCHMARKS.md): `{CHOSEN}` ({VALIDATORS[CHOSEN]}) and `{SECOND}` "
        f"({VALIDATORS[SECOND]}). {automatic_adaptation().verdict_record()}", icon=ICONS[result.label])
    if summary.get("best_by"):
        st.caption(f"The best epoch of this run was chosen by `{CHOSEN}`, not by the target's val labels.")
    with st.expander("Evidence: each validator for source only and for this run", expanded=result.label != "likely "
                     "helped"):
        rows = [{"validator": label, "source only (twin)": before, "this run": after,
                 "this run is": "higher" if after > before else "lower" if after < before else "equal"}
                for label, before, after in result.evidence]
        if result.gap is not None:
            rows.append({"validator": "domain gap: proxy A-distance (0 = indistinguishable, lower is closer)",
                         "source only (twin)": result.gap[0], "this run": result.gap[1],
                         "this run is": "closer" if result.gap[1] < result.gap[0] else "farther"})
        st.dataframe(rows, hide_index=True, width="stretch", key=f"{key}.evidence",
                     column_config={"source only (twin)": st.column_config.NumberColumn(format="%.3f"),
                                    "this run": st.column_config.NumberColumn(format="%.3f")})
        st.caption("Higher is better for every validator. " + TWIN)
