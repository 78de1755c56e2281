"""The course's version (the one place for it) and the handshake run by every notebook's set-up cell.

A leaf module: the build, checkpoints and the package facade read ``__version__`` from here, and
``pyproject.toml`` gives it to the installed package (``[tool.setuptools.dynamic]``).
"""

from __future__ import annotations

import warnings

__all__ = ["__version__", "check_version"]

__version__ = "0.1.0"


class VersionMismatchWarning(UserWarning):
    """The installed course_utils is not the version a notebook was written for."""


def check_version(expected: str, quiet: bool = False) -> None:
    """Compare the installed ``course_utils`` with the version a notebook expects.

    Prints one line (version, device, training budget) unless ``quiet``, and warns with what to do
    when the versions differ.
    """
    from .budget import current_budget
    from .device import get_device

    if expected != __version__:
        warnings.warn(
            f"This notebook was written for course_utils {expected}, but {__version__} is installed: "
            "results and function names may differ. In Colab, use the notebook from the same release as the "
            "package (Runtime > Disconnect and delete runtime, then run again). Locally, update both with "
            "`git pull` and `pip install -e .` in the course folder.",
            VersionMismatchWarning,
            stacklevel=2,
        )
    if not quiet:
        print(f"course_utils {__version__} | device: {get_device()} | training budget: {current_budget()}")
