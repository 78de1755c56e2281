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


@pytest.fixture(scope="session")
def release_repository(tmp_path_factory):
    """The student release as students clone it: ``--release`` written, committed and tagged like the public
    repository, served as a bare git repository. Returns its ``file://`` URL (for ``COURSE_REPOSITORY_URL``)."""
    import subprocess

    from course_utils import build
    from course_utils.release import write_release

    work, bare = tmp_path_factory.mktemp("release-work"), tmp_path_factory.mktemp("release") / "course.git"
    write_release(work)
    git = ["git", "-c", "user.name=Course", "-c", "user.email=course@example.org", "-C", str(work)]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "release"], ["tag", build.course_config()["ref"]]):
        subprocess.run(git + args, check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return f"file://{bare}"
