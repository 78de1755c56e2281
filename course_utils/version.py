"""The course's version (the one place for it) and the handshake run by every notebook's set-up cell.

A leaf module: the build, checkpoints and the package facade read ``__version__`` from here, and
``pyproject.toml`` gives it to the installed package (``[tool.setuptools.dynamic]``).

:func:`check_version`, which the stamped set-up cell of every notebook calls, is also where a notebook's
session is set up: PyTorch's CPU threads (:func:`course_utils.device.configure_threads`) and a hint under a
``NameError`` that says to run the cells above first (:func:`install_error_hints`).
"""

from __future__ import annotations

import re
import warnings

__all__ = ["__version__", "check_version", "install_error_hints", "NAME_ERROR_HINT"]

__version__ = "0.1.0"


class VersionMismatchWarning(UserWarning):
    """The installed course_utils is not the version a notebook was written for."""


def check_version(expected: str, quiet: bool = False) -> None:
    """Compare the installed ``course_utils`` with the version a notebook expects, and set up the session.

    Prints one line (version, device, training budget, and on a CPU PyTorch's thread count) unless ``quiet``,
    and warns with what to do when the versions differ. Sets PyTorch's CPU thread count
    (:func:`~course_utils.device.configure_threads`) and, in IPython, the hint under a ``NameError``
    (:func:`install_error_hints`).
    """
    from .budget import current_budget
    from .device import configure_threads, get_device

    if expected != __version__:
        warnings.warn(
            f"This notebook was written for course_utils {expected}, but {__version__} is installed: "
            "results and function names may differ. In Colab, use the notebook from the same release as the "
            "package (Runtime > Disconnect and delete runtime, then run again). Locally, update both with "
            "`git pull` and `pip install -e .` in the course folder.",
            VersionMismatchWarning,
            stacklevel=2,
        )
    device = get_device()
    threads = configure_threads(device)
    install_error_hints()
    if not quiet:
        on_cpu = f" | CPU threads: {threads}" if device.type == "cpu" else ""
        print(f"course_utils {__version__} | device: {device} | training budget: {current_budget()}{on_cpu}")


NAME_ERROR_HINT = (
    "Hint: {name} is not defined in this session. If a cell above defines it, run the cells above first "
    "(JupyterLab: Run > Run All Above Selected Cell; Colab: Runtime > Run before) and finish the exercises there; "
    "if it is a name of your own, check its spelling."
)


def _name_error_hint(shell, etype, value, tb, tb_offset=None):
    """IPython's custom exception handler for NameError: the usual traceback, then :data:`NAME_ERROR_HINT`."""
    stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    if etype is NameError:  # not its subclass UnboundLocalError: a bug inside a function, not a missing cell
        name = getattr(value, "name", None) or next(iter(re.findall(r"name '(\w+)'", str(value))), None)
        stb = [*stb, NAME_ERROR_HINT.format(name=f"`{name}`" if name else "this name")]
    shell._showtraceback(etype, value, stb)
    return stb


def install_error_hints() -> bool:
    """In IPython (a Jupyter kernel, Colab, a terminal IPython), add one line under every ``NameError``: a name
    defined in an earlier cell is missing, run the cells above and finish the exercises there first
    (:data:`NAME_ERROR_HINT`). The error itself is unchanged (a run of all cells still stops there). Returns
    whether it was installed (False outside IPython). Installing it again replaces it."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    shell.set_custom_exc((NameError,), _name_error_hint)
    return True
