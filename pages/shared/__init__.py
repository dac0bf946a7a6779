"""What the pages share. Every page imports this package first, so this is where the
dashboard's server process is set up, once, under the package's import lock:

* OpenMP's idle threads sleep rather than spin (set before torch loads): a spinning pool
  next to a training worker made Predict and the Grad-CAM maps 3-4x slower here;
* the core and its libraries are imported here, one thread at a time. Streamlit runs each
  session's script in a thread of its own, and on a fresh server several pages importing
  at the same moment failed on libraries' internal circular imports ("cannot import name
  'clone' from partially initialized module 'sklearn.base'", "deadlock detected by
  _ModuleLock('narwhals.stable.v1')" under plotly): 3 of 4 tries with eight pages opened
  at once (tests/ui/test_server_start.py). Later page imports then find them loaded.

A page opened by its own URL on a fresh server runs without app.py, so every page script
(app.py too) begins with `import pages.shared`: an explicit import of a package that is
still initialising waits for it, while `from pages.shared.x import y` would only find the
half-made package in sys.modules and go on, importing the libraries beside it.
"""
import importlib
import pkgutil

from tlcore.jobs.environment import quiet_openmp

quiet_openmp()

# What the pages import at their top, so none of it is first imported by two threads at once.
import tlcore.explain  # noqa: E402,F401 - Grad-CAM, OpenCV
import tlcore.feasibility.job  # noqa: E402,F401
import tlcore.feasibility.rank  # noqa: E402,F401
import tlcore.plots  # noqa: E402,F401 - plotly
import tlcore.predict  # noqa: E402,F401
import tlcore.runs.bundles  # noqa: E402,F401
import tlcore.runs.read  # noqa: E402,F401
import tlcore.strategies.recommend  # noqa: E402,F401
import tlcore.train.context  # noqa: E402,F401 - torch, timm, scikit-learn, the registries

# And every view here, with what it imports (plotly's figure classes, scikit-learn's decompositions).
for _view in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_view.name}")
