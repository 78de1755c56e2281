"""Claims: the comparisons a lesson states, checked on the numbers of the run in front of the student.

A notebook's prose never types a result; where it compares ("DnCNN beats NL-means"), a cell states the
comparison in code as well, with the numbers it rests on::

    cu.claim(psnr_dncnn > psnr_nlm, f"DnCNN beats NL-means ({psnr_dncnn:.2f} dB against {psnr_nlm:.2f} dB)")

which prints one line:

* ``✅ holds: DnCNN beats NL-means (29.21 dB against 27.90 dB)``;
* ``⚠ does not hold in this run: ...``, with what to make of it, when a budget, a seed or a library version
  moved the numbers (the text describes the run stored at the CPU budget);
* ``… not checked at the fast budget: ...`` at the smoke budget, where nothing has learned anything.

The solutions are stored at the CPU budget with every claim holding: ``tests/test_stored_results.py`` reads
their outputs and fails on any ⚠ line.
"""

from __future__ import annotations

from .budget import current_budget

__all__ = ["claim", "HOLDS", "FAILS", "UNCHECKED"]

HOLDS, FAILS, UNCHECKED = "✅ holds:", "⚠ does not hold in this run:", "… not checked at the fast budget:"


def claim(condition, statement: str) -> bool | None:
    """Print whether the lesson's ``statement`` holds in this run; return True / False, or None (not checked).

    Args:
        condition: the statement as a boolean (a Python bool, a NumPy bool or a one-element tensor).
        statement: the sentence, with the numbers it compares formatted in (e.g. ``f"... ({a:.2f} dB)"``).

    At the ``fast`` budget the condition is not evaluated (training there is a smoke run): the line says
    "not checked".
    """
    if not isinstance(statement, str) or not statement.strip():
        raise TypeError("claim(condition, statement): the statement is the sentence the lesson makes, a string")
    if current_budget() == "fast":
        print(f"{UNCHECKED} {statement}")
        return None
    holds = bool(condition)
    if holds:
        print(f"{HOLDS} {statement}")
    else:
        print(
            f"{FAILS} {statement}\n   The text around this cell describes the run stored at the CPU budget; "
            "with another budget, seed or library version the numbers moved: read the outputs above, not the prose."
        )
    return holds
