"""``python -m benchmarks``: the benchmark suite (``python -m tlcore bench`` runs this)."""
import sys

from benchmarks.suite import main

sys.exit(main())
