"""Test-session set-up shared by tests/ and the nbval run on solutions/: the smoke budget and a
non-interactive plotting backend, inherited by the notebook kernels (`pytest solutions/` alone too)."""

import os

os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
