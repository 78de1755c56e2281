"""Shared test set-up: a non-interactive plotting backend, the smoke budget, and a fixed seed."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("COURSE_FAST", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture
def g():
    """A fresh, seeded CPU generator for reproducible random data."""
    return torch.Generator().manual_seed(1234)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
