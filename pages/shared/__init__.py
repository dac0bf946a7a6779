"""What the pages share. Imported by every page before anything that imports torch, so the
server's OpenMP pool is set up to sleep when idle rather than spin: a spinning pool next to
a training worker made Predict and the Grad-CAM maps 3-4x slower here (see DESIGN.md)."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
