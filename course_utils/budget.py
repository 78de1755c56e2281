"""Training budgets: one mechanism gives every training loop of the course its size.

Three budgets exist:

* ``full``: the original course's scale, meant for a GPU (Colab). Chosen by default when CUDA is there.
* ``cpu``: the default elsewhere; each notebook finishes in minutes on a 2-core laptop.
* ``fast``: a smoke size for CI (``COURSE_FAST=1``): checks that the code runs, not that it learns.

Notebooks never test the device themselves; they write ``n_steps = by_budget(full=4000, cpu=300, fast=5)``.
Override with the environment variable ``COURSE_BUDGET=full|cpu|fast`` or with :func:`set_budget`.
"""
from __future__ import annotations

import os

import torch

__all__ = ["BUDGETS", "current_budget", "set_budget", "by_budget"]

BUDGETS = ("full", "cpu", "fast")
_override: str | None = None


def _check(name: str, where: str) -> str:
    name = name.strip().lower()
    if name not in BUDGETS:
        raise ValueError(f"{where}: unknown budget {name!r}; choose one of {', '.join(BUDGETS)}.")
    return name


def current_budget() -> str:
    """The budget in force: :func:`set_budget`, else ``COURSE_FAST=1`` → ``fast``, else
    ``COURSE_BUDGET``, else ``full`` with CUDA and ``cpu`` without."""
    if _override is not None:
        return _override
    if os.environ.get("COURSE_FAST", "").strip() not in ("", "0"):
        return "fast"
    env = os.environ.get("COURSE_BUDGET", "").strip()
    if env:
        return _check(env, "COURSE_BUDGET")
    return "full" if torch.cuda.is_available() else "cpu"


def set_budget(name: str | None) -> None:
    """Force a budget for this Python session (``None`` goes back to the environment's choice)."""
    global _override
    _override = None if name is None else _check(name, "set_budget")


def by_budget(*, full, cpu, fast):
    """Return the value for the budget in force, e.g. ``by_budget(full=40, cpu=4, fast=1)``."""
    return {"full": full, "cpu": cpu, "fast": fast}[current_budget()]
