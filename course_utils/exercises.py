"""What a notebook grades, read from its single source, the solution notebook: the code exercises (id, points,
the self-check and the name it checks) and the written questions (id, question, model answer, rubric).

A code exercise is graded where its self-check stands. A comment line of the check cell in the solution gives
its id and points, so that the instructor (and the student) sees them where the exercise is::

    # Graded: encoder-block, 2 points
    check_encoder_block(EncoderBlock)

The id is lower case, digits and hyphens; the points a whole or decimal number (``1 point``, ``0.5 points``);
the rest of the cell is one call of a check of :mod:`course_utils.checks` on one name, the name the student
defines. Every check cell must carry such a line (``0 points`` for a practice exercise), so that no exercise is
forgotten. A written question is a markdown cell followed by its model answer, a markdown cell tagged
``solution``; markdown cells tagged ``instructor`` right after the answer are its rubric. Questions are
numbered ``q1``, ``q2``, ... in order.

The build (:mod:`course_utils.build`) stamps these ids into the metadata of the solution and student notebooks
(``metadata.course``: the notebook and course version; on cells, the exercise with its points, the question and
the answer); the grader (:mod:`course_utils.grade`) reads them, and ``python -m course_utils.grade --list NN``
prints them.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from .version import __version__

__all__ = ["Exercise", "Question", "GradedItems", "GradingSpecError", "graded_items", "stamp_graded", "code_of"]

GRADED_LINE = re.compile(r"^# Graded: (?P<id>[a-z0-9]+(?:-[a-z0-9]+)*), (?P<points>\d+(?:\.\d+)?) points?$")
LOOKS_GRADED = re.compile(r"^[ \t]*#+[ \t]*graded\b", flags=re.I | re.M)
CHECK_CALL = re.compile(r"^(?P<check>check_\w+)\((?P<target>[A-Za-z_]\w*)\)$")
SOLUTION_TAG, INSTRUCTOR_TAG = "solution", "instructor"


class GradingSpecError(ValueError):
    """A solution notebook's graded items break a rule (see the module docstring); the message names the cell."""


@dataclass(frozen=True)
class Exercise:
    """A code exercise: graded by running ``check`` of :mod:`course_utils.checks` on the student's ``target``."""

    id: str
    points: float
    check: str
    target: str
    cell: int  # its check cell in the solution notebook


@dataclass(frozen=True)
class Question:
    """A written question: marked by hand from the model ``answer`` and the ``rubric`` (empty when none)."""

    id: str
    question: str
    answer: str
    rubric: str
    cell: int  # the question's cell in the solution notebook


@dataclass(frozen=True)
class GradedItems:
    """Everything notebook ``notebook`` (a solution's file stem, e.g. ``02_simple_unet``) grades."""

    notebook: str
    exercises: tuple[Exercise, ...]
    questions: tuple[Question, ...]

    @property
    def max_points(self) -> float:
        return sum(e.points for e in self.exercises)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def code_of(source: str) -> str:
    """A code cell's code without comment lines and blank lines (what tells a check cell)."""
    return "\n".join(line.strip() for line in source.splitlines() if line.strip() and not line.strip().startswith("#"))


def _number(text: str) -> float:
    value = float(text)
    return int(value) if value.is_integer() else value


def graded_items(nb: dict, notebook: str) -> GradedItems:
    """The exercises and written questions of the solution notebook ``nb`` (named ``notebook``, its file stem).

    Raises:
        GradingSpecError: a check cell has no ``# Graded:`` line or a malformed one, a ``# Graded:`` line stands
            in a cell that is not one check call, a check does not exist, or an id is used twice.
    """
    from .checks import __all__ as checks_names

    exercises, questions, seen = [], [], {}
    cells = nb.get("cells", [])
    for i, cell in enumerate(cells):
        src = _source(cell)
        where = f"{notebook}, cell {i}"
        if cell.get("cell_type") == "code":
            code = code_of(src)
            calls = [m for m in map(CHECK_CALL.match, code.splitlines()) if m and m["check"] in checks_names]
            graded = [line.strip() for line in src.splitlines() if LOOKS_GRADED.match(line)]
            if not graded and not calls:
                continue
            if not graded:
                raise GradingSpecError(
                    f"{where} calls a self-check but says nothing about grading: add a line "
                    "'# Graded: <id>, <points> points' (e.g. '# Graded: encoder-block, 2 points'; "
                    "0 points for practice)"
                )
            match = GRADED_LINE.match(graded[0])
            if len(graded) > 1 or match is None:
                raise GradingSpecError(
                    f"{where}: {graded[-1]!r} is not a grading line. Write exactly one line "
                    "'# Graded: <id>, <points> points': the id in lower case, digits and hyphens, "
                    "the points a number (e.g. '# Graded: encoder-block, 2 points')"
                )
            if len(calls) != 1 or code != calls[0].group(0):
                raise GradingSpecError(
                    f"{where}: a graded cell holds one call of a check of course_utils.checks on one name, e.g. "
                    f"'check_encoder_block(EncoderBlock)', and nothing else (found {code!r})"
                )
            check, target = calls[0]["check"], calls[0]["target"]
            ex_id = match["id"]
            if ex_id in seen:
                raise GradingSpecError(f"{where}: the exercise id {ex_id!r} is used already in cell {seen[ex_id]}")
            seen[ex_id] = i
            exercises.append(Exercise(ex_id, _number(match["points"]), check, target, i))
        elif cell.get("cell_type") == "markdown" and SOLUTION_TAG in _tags(cell):
            before = [
                j
                for j in range(i)
                if cells[j].get("cell_type") == "markdown"
                and not {SOLUTION_TAG, INSTRUCTOR_TAG} & set(_tags(cells[j]))
                and _source(cells[j]).strip()
            ]
            if not before:
                raise GradingSpecError(f"{where}: a model answer (tagged 'solution') with no question before it")
            rubric = []
            for later in cells[i + 1 :]:
                if later.get("cell_type") != "markdown" or INSTRUCTOR_TAG not in _tags(later):
                    break
                rubric.append(_source(later).strip())
            q = before[-1]
            questions.append(
                Question(f"q{len(questions) + 1}", _source(cells[q]).strip(), src.strip(), "\n\n".join(rubric), q)
            )
    return GradedItems(notebook, tuple(exercises), tuple(questions))


def stamp_graded(nb: dict, notebook: str) -> dict:
    """``nb`` with the grading ids in its metadata: ``metadata.course = {"notebook", "version"}``; on the check
    cells ``{"exercise", "points"}``, on the question cells ``{"question"}``, on the answer cells ``{"answer"}``
    (and no stale ``course`` entry on any other cell)."""
    items = graded_items(nb, notebook)
    nb = copy.deepcopy(nb)
    marks = {e.cell: {"exercise": e.id, "points": e.points} for e in items.exercises}
    for q in items.questions:
        marks[q.cell] = {"question": q.id}
    answers = [i for i, c in enumerate(nb["cells"]) if c.get("cell_type") == "markdown" and SOLUTION_TAG in _tags(c)]
    for q, i in zip(items.questions, answers):
        marks[i] = {"answer": q.id}
    for i, cell in enumerate(nb["cells"]):
        meta = cell.setdefault("metadata", {})
        meta.pop("course", None)
        if i in marks:
            meta["course"] = marks[i]
    nb.setdefault("metadata", {})["course"] = {"notebook": notebook, "version": __version__}
    return nb
