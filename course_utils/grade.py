"""Grade a class's submissions of one notebook, with the instructor's own self-checks.

    python -m course_utils.grade SUBMISSIONS --notebook 02 --out OUT [--jobs N] [--timeout S]
    python -m course_utils.grade --list 02          # the graded items of notebook 02, their ids and points

``SUBMISSIONS`` is a folder of notebooks, one per student (the student id is the file's stem), or of one folder
per student holding the notebook (the id is the folder's name). ``OUT`` receives ``grades.csv`` (one row per
submission: student, status, the points of each code exercise, total, max), ``feedback/<student>.md`` (each
exercise's verdict with the self-check's message, and the errors of the run with their cells) and
``written.md`` (each written question with the model answer and rubric, then every student's answer).

What is graded, and how many points, is read from the solution notebook (see :mod:`course_utils.exercises`).
Each submission runs in a fresh kernel of its own (:class:`course_utils.kernel.Kernel`), in an empty temporary
folder, at the grading budget (``COURSE_BUDGET=fast``), with a time limit per cell and per notebook and a memory
limit. The grader skips the submission's course set-up cell and its untouched check cells, and runs its own:
after every cell, each graded name that the cell (re)defined is checked with a fresh copy of the instructor's
``course_utils/checks.py``, its verdict read from the kernel's reply (not from anything printed). So a deleted,
duplicated, moved or edited cell changes nothing but what the student's code defines, and the last definition
made by the student's own code counts. Shell lines (``!...``, ``%pip``) are skipped and ``google.colab`` is a
stand-in whose calls do nothing.

Exit status: 0 when every submission was processed, whatever its grades; 2 when the grader could not run.
"""

from __future__ import annotations

import argparse
import ast
import csv
import io
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .build import (
    ANSWER_PROMPT,
    BADGE_TAG,
    INSTRUCTOR_TAG,
    ROOT,
    SETUP_STAMP_LAST_LINE,
    SETUP_STAMP_TITLES,
    SOLUTION_TAG,
    BuildError,
    _source,
    _tags,
    read_notebook,
)
from .exercises import GradedItems, code_of, graded_items
from .files import atomic_path
from .kernel import Kernel
from .version import __version__

__all__ = ["grade", "find_submissions", "load_items", "Report", "GradeError", "main"]

GRADING_BUDGET = "fast"
SETUP_TIMEOUT = 300.0  # seconds for a fresh kernel to import PyTorch and course_utils, even on a loaded machine
JUNK = {".DS_Store", "Thumbs.db", "desktop.ini", ".ipynb_checkpoints", "__MACOSX"}
SHELL_LINE = re.compile(r"^([ \t]*)(!|%(pip|conda|mamba|micromamba|uv|sx|system|sc)\b)")
SHELL_CELL = re.compile(r"^%%(bash|sh|script|system|shell|perl|ruby|python2|python3|pypy)\b")
ANSWER_LEFT_AS_IS = ANSWER_PROMPT
RESULT = "_course_grade_result"


class GradeError(Exception):
    """The grader itself cannot run (a wrong argument, no solution notebook, no kernel): exit status 2."""


@dataclass
class ExerciseResult:
    points: float
    verdict: str  # correct, wrong, not done, missing, time limit, not graded
    message: str


@dataclass
class Report:
    """The grading of one submission."""

    student: str
    source: str
    status: str = "ok"
    version: str = ""
    results: dict = field(default_factory=dict)  # exercise id -> ExerciseResult
    errors: list = field(default_factory=list)  # (cell number, first line, what happened, traceback tail)
    warnings: list = field(default_factory=list)
    skipped: list = field(default_factory=list)  # (cell number, shell line) left out of the run
    answers: dict = field(default_factory=dict)  # question id -> the student's answer (markdown)
    seconds: float = 0.0

    @property
    def total(self) -> float:
        return sum(r.points for r in self.results.values())


# ---------------------------------------------------------------- the solution: what is graded
def solution_path(notebook: str, root: Path = ROOT) -> Path:
    """``solutions/NN_name.ipynb`` for ``notebook`` given as ``NN``, ``NN_name`` or the file name."""
    folder = root / "solutions"
    if not folder.is_dir():
        raise GradeError(
            f"no solutions/ folder in {root}: the grader reads what to grade from the solution notebooks, so it "
            "runs in the instructor's repository (a student release has no solutions)"
        )
    key = notebook.removesuffix(".ipynb")
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb") if p.stem == key or p.stem.split("_")[0] == key)
    if len(found) != 1:
        names = ", ".join(p.stem for p in sorted(folder.glob("[0-9][0-9]_*.ipynb")))
        raise GradeError(f"no solution notebook matches --notebook {notebook!r}; the notebooks are: {names}")
    return found[0]


def load_items(notebook: str, root: Path = ROOT) -> tuple[GradedItems, dict]:
    """The graded items of ``notebook`` and its solution notebook."""
    path = solution_path(notebook, root)
    try:
        nb = read_notebook(path, root)
        return graded_items(nb, path.stem), nb
    except ValueError as e:
        raise GradeError(str(e)) from None


def _normalised(text: str) -> str:
    return " ".join(text.split()).lower()[:160]


def _fingerprint(nb: dict) -> set[str]:
    """The notebook's own markdown text (not answers): what tells one notebook of the course from another."""
    return {
        _normalised(_source(c))
        for c in nb.get("cells", [])
        if isinstance(c, dict)
        and c.get("cell_type") == "markdown"
        and not {SOLUTION_TAG, INSTRUCTOR_TAG, BADGE_TAG} & set(_tags(c))
        and _source(c).strip()
        and _source(c).strip() != ANSWER_LEFT_AS_IS
    }


def _fingerprints(root: Path = ROOT) -> dict[str, set[str]]:
    prints = {}
    for path in sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb")):
        try:
            prints[path.stem] = _fingerprint(read_notebook(path, root))
        except BuildError:
            continue
    return prints


# ---------------------------------------------------------------- the submissions
def find_submissions(folder) -> list[tuple[str, Path | None, str]]:
    """``(student, notebook, problem)`` for each submission in ``folder``: each file (the student is its stem)
    and each sub-folder (the student is its name, the notebook the ``.ipynb`` inside it). ``problem`` is empty,
    or says why there is no notebook to grade; ``notebook`` is then the file (or None)."""
    folder = Path(folder)
    found, seen = [], {}
    for entry in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
        if entry.name in JUNK or entry.name.startswith("."):
            continue
        if entry.is_dir():
            student = entry.name
            inside = sorted(
                p for p in entry.rglob("*.ipynb") if not set(p.relative_to(entry).parts[:-1]) & JUNK and p.is_file()
            )
            if not inside:
                found.append((student, None, "no notebook (.ipynb) in the folder"))
                continue
            notebook, problem = inside[0], ""
            if len(inside) > 1:
                notebook = max(inside, key=lambda p: p.stat().st_mtime)
                others = ", ".join(p.name for p in inside if p != notebook)
                problem = f"note: several notebooks in the folder; graded the newest, {notebook.name} (not {others})"
            found.append((student, notebook, problem))
        elif entry.is_file():
            student = entry.stem
            problem = "" if entry.suffix == ".ipynb" else f"not a notebook: a {entry.suffix or 'extension-less'} file"
            found.append((student, entry, problem))
    unique = []
    for student, path, problem in found:  # alice.ipynb and a folder alice/: alice, alice (2)
        seen[student] = seen.get(student, 0) + 1
        unique.append((student if seen[student] == 1 else f"{student} ({seen[student]})", path, problem))
    return unique


def read_submission(path: Path) -> tuple[dict | None, str]:
    """The notebook in ``path`` and ``"ok"``, or None and why it is not a notebook."""
    data = path.read_bytes()
    if not data.strip():
        return None, "not a notebook: the file is empty"
    try:
        nb = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not a notebook: the file is not text (UTF-8)"
    except json.JSONDecodeError as e:
        return None, f"not a notebook: invalid JSON (line {e.lineno}, column {e.colno})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None, "not a notebook: JSON without a list of cells"
    if any(not isinstance(c, dict) or c.get("cell_type") not in ("code", "markdown", "raw") for c in nb["cells"]):
        return None, "not a notebook: a cell is not a code, markdown or raw cell"
    return nb, "ok"


def _course_meta(nb: dict) -> dict:
    meta = nb.get("metadata", {})
    course = meta.get("course", {}) if isinstance(meta, dict) else {}
    return course if isinstance(course, dict) else {}


def identify(nb: dict, notebook: str, prints: dict[str, set[str]]) -> str:
    """``""`` when ``nb`` is a version of ``notebook``, else the status saying which notebook it is."""
    claimed = _course_meta(nb).get("notebook")
    if isinstance(claimed, str) and claimed:
        return "" if claimed == notebook else f"wrong notebook: this is {claimed}, not {notebook}"
    mine = _fingerprint(nb)  # no metadata (another editor dropped it): compare the text
    share = {name: len(mine & text) / max(len(text), 1) for name, text in prints.items()}
    best = max(share, key=share.get) if share else notebook
    if best != notebook and share[best] > share.get(notebook, 0):
        return f"wrong notebook: it looks like {best}, not {notebook}"
    if share.get(notebook, 1) == 0:
        return f"wrong notebook: none of its text comes from {notebook}"
    return ""


def submission_version(nb: dict) -> str:
    """The course version a submission was handed out with ("" when it cannot be told)."""
    version = _course_meta(nb).get("version")
    if isinstance(version, str) and version:
        return version
    for cell in nb["cells"]:
        match = re.search(r'^COURSE_VERSION\b.*?"([^"]+)"', _source(cell), flags=re.M)
        if cell.get("cell_type") == "code" and match:
            return match.group(1)
    return ""


def student_answers(nb: dict, items: GradedItems) -> dict[str, str]:
    """Each written question's answer in the submission ("" when left empty or not found): the cells marked
    as its answer, else the markdown cells right after its question."""
    cells = nb["cells"]
    answers = {}
    for q in items.questions:
        marked = [c for c in cells if isinstance(c.get("metadata"), dict) and _mark(c).get("answer") == q.id]
        if not marked:
            start = next(
                (
                    i
                    for i, c in enumerate(cells)
                    if _mark(c).get("question") == q.id
                    or (c.get("cell_type") == "markdown" and _normalised(_source(c)) == _normalised(q.question))
                ),
                None,
            )
            if start is not None:
                for c in cells[start + 1 :]:
                    if c.get("cell_type") != "markdown" or _mark(c).get("question"):
                        break
                    marked.append(c)
        text = "\n\n".join(_source(c).strip() for c in marked if _source(c).strip() != ANSWER_LEFT_AS_IS)
        answers[q.id] = text.strip()
    return answers


def _mark(cell: dict) -> dict:
    meta = cell.get("metadata", {})
    mark = meta.get("course", {}) if isinstance(meta, dict) else {}
    return mark if isinstance(mark, dict) else {}


# ---------------------------------------------------------------- running one submission
def runnable(source: str, check_calls: set[str]) -> tuple[str | None, list[str]]:
    """The code the grader runs for a submission's cell (None: skip it) and the shell lines it left out.

    Skipped: the course set-up cell (the grader does its own set-up), untouched check cells (the grader runs
    the instructor's checks), and shell cells (``%%bash``...). Shell lines (``!...``, ``%pip``) become ``pass``.
    """
    stripped = source.strip()
    if not stripped or SETUP_STAMP_LAST_LINE in source or stripped.startswith(SETUP_STAMP_TITLES):
        return None, []
    if code_of(source) in check_calls:
        return None, []
    if SHELL_CELL.match(stripped):
        return None, [stripped.splitlines()[0]]
    lines, skipped = [], []
    for line in source.splitlines():
        match = SHELL_LINE.match(line)
        if match:
            skipped.append(line.strip())
            line = f"{match.group(1)}pass  # skipped by the grader"
        lines.append(line)
    return "\n".join(lines), skipped


GRADER_SETUP = r'''
def _course_grader_setup(threads):
    """The grader's set-up: google.colab as a stand-in whose calls do nothing, torch's threads, course_utils."""
    import importlib.abc, importlib.machinery, sys, types

    class Nothing:
        def __call__(self, *args, **kwargs):
            return Nothing()
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return Nothing()
        def __iter__(self):
            return iter(())
        def __bool__(self):
            return False
        def __enter__(self):
            return self
        def __exit__(self, *exc):
            return False

    class StandIn(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return Nothing()

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path, target=None):
            real = name == "google" and importlib.machinery.PathFinder.find_spec(name) is not None
            if (name in ("google", "google.colab") or name.startswith("google.colab.")) and not real:
                return importlib.machinery.ModuleSpec(name, self, is_package=True)
            return None
        def create_module(self, spec):
            return StandIn(spec.name)
        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, Finder())
    import torch
    torch.set_num_threads(threads)
    import course_utils
_course_grader_setup({threads})
del _course_grader_setup
'''

AFTER_CELL = (
    f"globals().pop({RESULT!r}, None)\n"
    "if 'matplotlib.pyplot' in __import__('sys').modules:\n"
    "    __import__('sys').modules['matplotlib.pyplot'].close('all')\n"
)

BINDINGS = (
    "__import__('json').dumps({{n: [id(v), getattr(v, '__module__', None) or '', "
    "[(getattr(b, '__module__', '') or '') + '.' + getattr(b, '__qualname__', '') "
    "for b in getattr(v, '__mro__', ())[1:]]] for n, v in ((n, globals().get(n)) for n in {names!r}) "
    "if v is not None}})"
)

CHECK = """
def _course_grade(path, check, target):
    import contextlib, importlib.util, io, json, sys
    spec = importlib.util.spec_from_file_location("course_utils._graded_checks", path)
    checks = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = checks  # while it loads (dataclasses look their module up)
    try:
        spec.loader.exec_module(checks)
    finally:
        del sys.modules[spec.name]
    with contextlib.redirect_stdout(io.StringIO()):
        result = getattr(checks, check)(globals()[target])
    return json.dumps([result.passed, result.message])
{result} = _course_grade({path!r}, {check!r}, {target!r})
del _course_grade
"""


def _value(text: str):
    """A JSON value that the kernel returned as the repr of a string."""
    return json.loads(ast.literal_eval(text))


def _first_line(source: str) -> str:
    line = next((s.strip() for s in source.splitlines() if s.strip()), "")
    return line if len(line) <= 70 else line[:67] + "..."


@dataclass
class Options:
    """How submissions run: time limits in seconds, memory in GiB, torch threads per kernel."""

    timeout: float = 120.0  # per cell, and per check
    notebook_timeout: float = 1200.0  # for the whole notebook
    memory_gb: float = 4.0
    threads: int = 1
    stop: threading.Event = field(default_factory=threading.Event)  # set: stop every run now (Ctrl-C)
    live: set = field(default_factory=set)  # the kernels running now


def grade_notebook(nb: dict, items: GradedItems, options: Options, report: Report) -> None:
    """Run ``nb`` in a fresh kernel in a temporary folder and fill ``report`` with the checks' verdicts."""
    from .checks import __file__ as checks_file  # the instructor's checks: the kernel loads a fresh copy
    from .download import cache_dir

    check_path = str(Path(checks_file).resolve())
    check_calls = {f"{e.check}({e.target})" for e in items.exercises}
    targets = sorted({e.target for e in items.exercises})
    last: dict[str, tuple] = {}  # target -> (id, module, bases) of its binding when last seen
    foreign: dict[str, str] = {}  # target -> the module of a definition that is not the student's
    pending = {e.id: ExerciseResult(0, "missing", "") for e in items.exercises}
    started = time.monotonic()
    env = {
        "COURSE_BUDGET": GRADING_BUDGET,
        "COURSE_FAST": "",
        "MPLBACKEND": "Agg",
        "COURSE_DATA_DIR": str(cache_dir()),
        "OMP_NUM_THREADS": str(options.threads),
        "MKL_NUM_THREADS": str(options.threads),
        "PYTHONPATH": os.pathsep.join([str(ROOT)] + [os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    folder = Path(tempfile.mkdtemp(prefix="course-grade-"))
    kernel = None
    try:
        kernel = Kernel(folder, env=env, memory_gb=options.memory_gb)
        options.live.add(kernel)
        if options.stop.is_set():  # Ctrl-C came while this kernel was starting: the main thread did not see it
            report.status = "interrupted"
            return
        # the grader's own set-up (importing PyTorch) is not the student's time: it gets SETUP_TIMEOUT
        setup = kernel.run(GRADER_SETUP.format(threads=options.threads), timeout=SETUP_TIMEOUT, silent=True)
        if options.stop.is_set():
            report.status = "interrupted"
            return
        if setup.status != "ok":
            raise GradeError(f"the grader's set-up failed in a fresh kernel: {setup.ename}: {setup.evalue}")
        number = 0
        for cell in nb["cells"]:
            number += 1
            if cell.get("cell_type") != "code":
                continue
            source = _source(cell)
            code, skipped = runnable(source, check_calls)
            report.skipped += [(number, line) for line in skipped]
            if code is None:
                continue
            left = options.notebook_timeout - (time.monotonic() - started)
            if left <= 0:
                report.status = (
                    f"time limit: the notebook ran longer than {options.notebook_timeout:.0f} s; "
                    f"stopped before cell {number}"
                )
                break
            outcome = kernel.run(code, timeout=min(options.timeout, left))
            if options.stop.is_set():
                report.status = "interrupted"
                break
            where = (number, _first_line(source))
            if outcome.status == "error":
                tail = "\n".join(outcome.traceback.strip().splitlines()[-8:])
                what = outcome.ename + (f": {outcome.evalue}" if outcome.evalue else "")
                if outcome.ename == "MemoryError" or "can't allocate memory" in outcome.evalue:
                    what += f" (the grader gives each notebook {options.memory_gb:g} GiB of memory)"
                report.errors.append((*where, what, tail))
            elif outcome.status == "timeout":
                limit = "per cell" if options.timeout <= left else "of the notebook"
                report.errors.append((*where, f"stopped after {outcome.seconds:.0f} s (the time limit {limit})", ""))
            elif outcome.status in ("died", "stuck"):
                report.status = (
                    f"kernel died in cell {number} (it exited, crashed or ran out of memory)"
                    if outcome.status == "died"
                    else f"time limit: cell {number} did not stop when interrupted"
                )
                report.errors.append((*where, report.status, ""))
                break
            probe = kernel.run(
                AFTER_CELL,
                timeout=options.timeout,
                silent=True,
                expressions={"bindings": BINDINGS.format(names=targets)},
            )
            if probe.status in ("died", "stuck"):
                report.status = f"kernel died after cell {number}"
                break
            bindings = _value(probe.values["bindings"]) if "bindings" in probe.values else {}
            for target, (ident, module, bases) in bindings.items():
                if last.get(target) == (ident, module, bases):
                    continue
                last[target] = (ident, module, bases)
                if module != "__main__":
                    foreign[target] = module
                    continue
                for ex in (e for e in items.exercises if e.target == target):
                    pending[ex.id] = _run_check(kernel, ex, bases, check_path, options, number)
                    if not kernel.alive:
                        report.status = (
                            f"time limit: the check of {ex.id} did not stop when interrupted"
                            if pending[ex.id].verdict == "time limit"
                            else f"kernel died while checking {ex.id} (after cell {number})"
                        )
                        break
                if report.status != "ok":
                    break
            if report.status != "ok":
                break
    finally:
        if kernel is not None:
            options.live.discard(kernel)
            kernel.close()
        shutil.rmtree(folder, ignore_errors=True)
    for ex in items.exercises:
        result = pending[ex.id]
        if result.verdict == "missing":
            if report.status != "ok" and ex.target not in last:
                result = ExerciseResult(0, "not graded", f"not graded: the run stopped ({report.status}) before it.")
            elif ex.target in foreign:
                result.message = (
                    f"❌ {ex.target}: the course's version ({foreign[ex.target]}) was used, not your own: 0 points."
                )
            else:
                result.message = (
                    f"❌ {ex.target} is not defined in your notebook (its cell was deleted, renamed or never "
                    "reached): 0 points."
                )
        report.results[ex.id] = result


def _run_check(kernel: Kernel, ex, bases: list[str], check_path: str, options: Options, number: int):
    """The instructor's check of ``ex`` on the student's current definition of its name."""
    course_bases = [b for b in bases if b.startswith("course_utils.")]
    if course_bases:
        return ExerciseResult(
            0, "wrong", f"❌ {ex.target}: it is built on the course's own {course_bases[0]}: write your own."
        )
    outcome = kernel.run(
        CHECK.format(result=RESULT, path=check_path, check=ex.check, target=ex.target),
        timeout=options.timeout,
        silent=True,
        expressions={"result": RESULT},
    )
    if outcome.status == "died":
        return ExerciseResult(0, "kernel died", f"❌ {ex.target}: the kernel died while the check ran your code.")
    if outcome.status in ("timeout", "stuck") or outcome.ename == "KeyboardInterrupt":
        return ExerciseResult(
            0,
            "time limit",
            f"❌ {ex.target}: the check stopped after {options.timeout:.0f} s (the time limit): does your code "
            "loop forever?",
        )
    if "result" not in outcome.values:
        return ExerciseResult(
            0, "wrong", f"❌ {ex.target}: the check could not run ({outcome.ename}: {outcome.evalue})."
        )
    passed, message = _value(outcome.values["result"])
    verdict = {True: "correct", False: "wrong", None: "not done"}[passed]
    return ExerciseResult(ex.points if passed is True else 0, verdict, f"{message}\n(checked after cell {number})")


def grade_one(student: str, path: Path | None, problem: str, items: GradedItems, prints, options: Options) -> Report:
    """Grade one submission; never raises for what the submission holds (only :class:`GradeError`)."""
    started = time.monotonic()
    report = Report(student, str(path or ""))
    for ex in items.exercises:
        report.results[ex.id] = ExerciseResult(0, "not graded", "not graded: see the status.")
    if path is None or problem.startswith("not a notebook"):
        report.status = problem or "no notebook"
        return report
    if problem:
        report.warnings.append(problem)
    nb, status = read_submission(path)
    if nb is None:
        report.status = status
        return report
    wrong = identify(nb, items.notebook, prints)
    if wrong:
        report.status = wrong
        return report
    report.answers = student_answers(nb, items)
    report.version = submission_version(nb)
    if report.version != __version__:
        report.warnings.append(
            f"This notebook comes from course version {report.version or '(unknown)'}; it was graded with the "
            f"checks of version {__version__}. If an exercise changed between the two, tell your instructor."
        )
    grade_notebook(nb, items, options, report)
    report.seconds = time.monotonic() - started
    return report


def grade(submissions, notebook: str, out, jobs: int = 1, options: Options | None = None, echo=print) -> list[Report]:
    """Grade every submission of ``submissions`` for ``notebook``; write ``out``/grades.csv, feedback/ and
    written.md; return the reports, sorted by student.

    Raises:
        GradeError: the grader cannot run (see :func:`main` for the messages).
    """
    submissions, out = Path(submissions), Path(out)
    if not submissions.is_dir():
        raise GradeError(f"{submissions} is not a folder: give the folder holding the submitted notebooks")
    if out.resolve().is_relative_to(submissions.resolve()):
        raise GradeError(f"--out {out} is inside {submissions}: choose a folder outside the submissions")
    items, _ = load_items(notebook)
    found = find_submissions(submissions)
    if not found:
        raise GradeError(f"{submissions} holds no submissions (notebooks, or one folder per student)")
    options = options or Options(threads=max(1, (os.cpu_count() or 1) // max(jobs, 1)))
    prints = _fingerprints()
    reports, lock = [], threading.Lock()

    def one(entry):
        report = grade_one(*entry, items, prints, options)
        with lock:
            reports.append(report)
            total = f"{_points(report.total)}/{_points(items.max_points)} points"
            echo(f"[{len(reports)}/{len(found)}] {report.student}: {report.status}, {total} ({report.seconds:.1f} s)")
        return report

    pool = ThreadPoolExecutor(max_workers=max(jobs, 1))
    try:
        for future in [pool.submit(one, entry) for entry in found]:
            future.result()  # a GradeError (no kernel) stops the run here
    except BaseException:  # Ctrl-C or a GradeError: stop the kernels still running, write nothing
        options.stop.set()
        pool.shutdown(wait=False, cancel_futures=True)  # first: no waiting submission may start a kernel now
        for kernel in list(options.live):
            kernel.kill()
        pool.shutdown(wait=True)
        raise
    pool.shutdown()
    reports.sort(key=lambda r: (r.student.lower(), r.student))
    write_reports(reports, items, out)
    return reports


# ---------------------------------------------------------------- what the grader writes
def _points(value: float) -> str:
    return f"{value:g}"


def _count(n: float, noun: str) -> str:
    return f"{_points(n)} {noun}{'' if n == 1 else 's'}"


def _file_name(student: str, taken: set[str]) -> str:
    name = re.sub(r"[^\w.-]+", "_", student).strip("._") or "student"
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{name}-{n}"
    taken.add(candidate.lower())
    return candidate


def feedback(report: Report, items: GradedItems) -> str:
    """The feedback of one submission, in Markdown, ready to hand back."""
    lines = [
        f"# Feedback on notebook {items.notebook}: {report.student}",
        "",
        f"Graded with course_utils {__version__} at the `{GRADING_BUDGET}` training budget. "
        f"**Total: {_points(report.total)} / {_points(items.max_points)} points.**",
        "",
    ]
    if report.status != "ok":
        lines += [f"**Status: {report.status}.**", ""]
    for warning in report.warnings:
        lines += [f"> Note: {warning}", ""]
    if report.skipped:
        shown = "; ".join(f"cell {n} `{line}`" for n, line in report.skipped)
        lines += [f"> Note: the grader runs no shell commands; it skipped {shown}.", ""]
    if items.exercises:
        lines += ["| Exercise | Name | Points | Verdict |", "|---|---|---|---|"]
        for ex in items.exercises:
            r = report.results[ex.id]
            lines.append(f"| {ex.id} | `{ex.target}` | {_points(r.points)} / {_points(ex.points)} | {r.verdict} |")
        lines.append("")
        for ex in items.exercises:
            r = report.results[ex.id]
            lines += [f"## {ex.id}: {_points(r.points)} / {_points(ex.points)}", "", "```text", r.message, "```", ""]
    if report.errors:
        lines += ["## Errors while your notebook ran", ""]
        lines += [
            "Cells are numbered from the top of the notebook, markdown cells included. An error in an early cell "
            "often causes the later ones.",
            "",
        ]
        for number, first, what, tail in report.errors:
            lines.append(f"- cell {number} (`{first}`): {what}")
            if tail:
                lines += ["", "  ```text", *("  " + t for t in tail.splitlines()), "  ```"]
        lines.append("")
    if items.questions:
        answered = sum(1 for q in items.questions if report.answers.get(q.id))
        lines += [f"Written questions: {answered} of {len(items.questions)} answered; they are marked by hand.", ""]
    return "\n".join(lines)


def written(reports: list[Report], items: GradedItems) -> str:
    """Every written question: the model answer and rubric, then each student's answer, for marking by hand."""
    lines = [f"# Written answers: {items.notebook}", ""]
    if not items.questions:
        return "\n".join(lines + ["This notebook has no written questions.", ""])
    for q in items.questions:
        lines += [f"## {q.id}", "", q.question, "", "### Model answer", "", q.answer, ""]
        if q.rubric:
            lines += ["### Rubric", "", q.rubric, ""]
        lines += ["### Answers", ""]
        for r in reports:
            if r.status.startswith(("not a notebook", "wrong notebook", "no notebook")):
                continue
            answer = r.answers.get(q.id, "")
            quoted = "\n".join("> " + line if line else ">" for line in answer.splitlines()) or "> _(no answer)_"
            lines += [f"**{r.student}**", "", quoted, ""]
    return "\n".join(lines)


def write_reports(reports: list[Report], items: GradedItems, out: Path) -> None:
    """``out``/grades.csv, ``out``/feedback/<student>.md and ``out``/written.md, each written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    ids = [e.id for e in items.exercises]
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["student", "status", *ids, "total", "max"])
    for r in reports:
        writer.writerow(
            [
                r.student,
                r.status,
                *(_points(r.results[i].points) for i in ids),
                _points(r.total),
                _points(items.max_points),
            ]
        )
    with atomic_path(out / "grades.csv") as tmp:
        tmp.write_text(table.getvalue(), encoding="utf-8")
    taken: set[str] = set()
    for r in reports:
        with atomic_path(out / "feedback" / f"{_file_name(r.student, taken)}.md") as tmp:
            tmp.write_text(feedback(r, items), encoding="utf-8")
    with atomic_path(out / "written.md") as tmp:
        tmp.write_text(written(reports, items), encoding="utf-8")


def list_items(notebook: str) -> str:
    """What ``--list`` prints: the notebook's exercises (id, points, check, name) and written questions."""
    items, _ = load_items(notebook)
    rows = [
        f"{items.notebook} (course_utils {__version__}): {_count(len(items.exercises), 'code exercise')}, "
        f"{_count(items.max_points, 'point')}; {_count(len(items.questions), 'written question')} (marked by hand)",
        "",
        f"  {'id':<22}{'points':>7}  {'check':<28}name",
    ]
    rows += [f"  {e.id:<22}{_points(e.points):>7}  {e.check:<28}{e.target}" for e in items.exercises]
    for q in items.questions:
        first = " ".join(q.question.split())
        rows.append(f"  {q.id:<22}{'-':>7}  written: {first[:70]}{'...' if len(first) > 70 else ''}")
    return "\n".join(rows)


# ---------------------------------------------------------------- the command
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.grade",
        description="Grade a folder of submitted notebooks with the instructor's self-checks (see README.md, "
        "'For instructors').",
    )
    parser.add_argument("submissions", nargs="?", help="folder of notebooks, or of one folder per student")
    parser.add_argument("--notebook", help="which notebook: 02, 02_simple_unet or its file name")
    parser.add_argument("--out", help="folder for grades.csv, feedback/ and written.md (new, or use --overwrite)")
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded at once (default 1)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per cell and per check (default 120)")
    parser.add_argument(
        "--notebook-timeout", type=float, default=1200, help="seconds per submission in all (default 1200)"
    )
    parser.add_argument("--memory", type=float, default=4, help="GiB of memory per kernel (Linux; default 4)")
    parser.add_argument("--overwrite", action="store_true", help="replace the grades already in --out")
    parser.add_argument("--list", metavar="NOTEBOOK", help="print the graded items of NOTEBOOK and stop")
    args = parser.parse_args(argv)
    try:
        if args.list:
            print(list_items(args.list))
            return 0
        if not (args.submissions and args.notebook and args.out):
            parser.error("give SUBMISSIONS, --notebook and --out (or --list NOTEBOOK)")
        if args.jobs < 1 or args.timeout <= 0 or args.notebook_timeout <= 0 or args.memory <= 0:
            parser.error("--jobs, --timeout, --notebook-timeout and --memory must be positive")
        out = Path(args.out)
        previous = [p.name for p in (out / "grades.csv", out / "written.md", out / "feedback") if p.exists()]
        if previous and not args.overwrite:
            raise GradeError(
                f"{out} already holds a grading ({', '.join(previous)}): choose another --out, or pass --overwrite "
                "to replace those files"
            )
        options = Options(
            timeout=args.timeout,
            notebook_timeout=args.notebook_timeout,
            memory_gb=args.memory,
            threads=max(1, (os.cpu_count() or 1) // args.jobs),
        )
        started = time.monotonic()
        reports = grade(args.submissions, args.notebook, out, jobs=args.jobs, options=options)
        graded = sum(r.status == "ok" for r in reports)
        print(
            f"graded {len(reports)} submissions ({graded} ok) in {time.monotonic() - started:.0f} s: "
            f"{out / 'grades.csv'}, {out / 'feedback'}/, {out / 'written.md'}"
        )
        return 0
    except GradeError as e:
        print("error:", e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: the kernels were stopped and nothing was written", file=sys.stderr)
        return 130
    except Exception as e:  # the kernel could not start, the output folder is not writable, ...
        print(f"error: the grader could not run: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    from course_utils.grade import main as _main

    sys.exit(_main())
