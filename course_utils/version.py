"""The notebook / package version handshake run by every notebook's set-up cell."""
from __future__ import annotations

import warnings

__all__ = ["check_version"]


class VersionMismatchWarning(UserWarning):
    """The installed course_utils is not the version a notebook was written for."""


def check_version(expected: str, quiet: bool = False) -> None:
    """Compare the installed ``course_utils`` with the version a notebook expects.

    Prints one line (version, device, training budget) unless ``quiet``, and warns with what to do
    when the versions differ.
    """
    from . import __version__
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
