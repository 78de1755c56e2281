"""Fixtures of the unit tests (the smoke budget and the plotting backend are set in ../conftest.py)."""
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
