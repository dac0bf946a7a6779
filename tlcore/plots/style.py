"""The look every figure shares."""

# Legend on the right of the title line, so the two never overlap.
LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10),
              legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"))

TRAIN, VAL, TEST, SOURCE = "#4C78A8", "#F58518", "#54A24B", "#B279A2"
FROZEN, TRAINABLE = "#BAB0AC", "#54A24B"
