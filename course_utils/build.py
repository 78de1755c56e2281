"""Build the student notebooks from the solution notebooks (the single source).

    python -m course_utils.build              # write notebooks/ (and stamp solutions/ headers)
    python -m course_utils.build --check      # exit 1 when anything is stale; writes nothing
    python -m course_utils.build --execute 01 # re-run solutions matching "01" top to bottom (CPU budget)
    python -m course_utils.build --release DIR # write the student release (no solutions) into DIR

Rules, applied to each ``solutions/NN_name.ipynb``:

* Code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes ``# YOUR CODE HERE`` and
  ``raise NotImplementedError("<name>: not written yet. ...")``, at the indentation of the ``BEGIN`` marker
  (nbgrader's markers), where ``<name>`` is the enclosing ``def`` / ``class`` (``Net.forward``), so that a later
  cell that calls the unfinished code says which exercise to finish first (:func:`stub`). The markers
  are exact: any line that looks like one but is not (``###BEGIN SOLUTION``, ``# end solution``,
  ``### BEGIN_SOLUTION``, any case or spacing) stops the build, naming the notebook, cell and line, since
  the answer after it would otherwise reach the students.
* Markdown (and raw) cells tagged ``solution`` become an answer prompt, without their attachments; cells
  tagged ``instructor`` are dropped. A code cell tagged ``solution`` stops the build: the build strips code
  only between the markers, so put them around the answer and remove the tag. Markers in a markdown cell
  not tagged ``solution`` stop it too.
* Outputs, execution counts and widget state are cleared; ``# NBVAL_...`` lines are removed.
* ``--execute`` stores outputs that read without a kernel: it sets ``COURSE_STATIC_WIDGETS=1`` for the kernel
  (the explorers then draw their default view, see :func:`course_utils.plotting.storing_outputs`) and drops any
  other widget view (a saved widget without its state shows "Error displaying widget: model not found").
* Grading: each check cell carries a line ``# Graded: <id>, <points> points``; the ids of the exercises,
  the written questions and the answers, with the notebook and the course version, are stamped into the
  metadata of both notebooks (see :mod:`course_utils.exercises`), where the grader finds them. A check cell
  without that line, or with a malformed one, stops the build.
* Header: a markdown cell tagged ``course-badge`` ("Open in Colab") and a code cell tagged
  ``course-setup`` (installs course_utils in Colab, checks the version) are stamped at the top of both
  the solution and the student notebook, from ``[tool.course]`` in pyproject.toml and
  ``course_utils.__version__``; edit those, never the stamped cells.
* The build never destroys a cell it did not write. A cell tagged ``course-badge`` or ``course-setup`` is
  replaced only when it is a stamp, of this build or an earlier one: a badge is a markdown cell holding
  nothing but an "Open in Colab" link (``<a href="https://colab.research.google.com/github/..."
  target="_parent"><img src=".../colab-badge.svg" alt="Open In Colab"/></a>``); a set-up cell is a code
  cell whose first line is a stamp's title (``# @title Course set-up``; ``# Set-up: in Google Colab`` in the
  first builds), which says ``Stamped by `python -m course_utils.build```, and whose last line is
  ``course_utils.check_version(COURSE_VERSION)``. Any other cell carrying one of these tags (a cell of your
  own that kept the tag when copied, text added before or after a stamp) stops the build with a message
  naming it: remove the tag and the cell stays where it is. Changes inside a stamp, between its first and
  last lines, are not kept (the stamp says "do not edit"): an earlier build's stamp cannot be told from an
  edited one.
* A solution file that is not a notebook (not UTF-8 JSON, or not an object with a list of cells) stops the
  build with a message naming the file.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
import time
from pathlib import Path

from .exercises import GradingSpecError, stamp_graded
from .files import atomic_path
from .version import __version__

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
ANSWER_PROMPT = "**Your answer:** _double-click here and write your answer._"
BADGE_TAG, SETUP_TAG, SOLUTION_TAG, INSTRUCTOR_TAG = "course-badge", "course-setup", "solution", "instructor"
NBVAL_MARKER = re.compile(r"^[ \t]*# NBVAL_[A-Z_]+[ \t]*\n?", flags=re.M)
LOOKS_LIKE_MARKER = re.compile(r"\b(begin|end)[ \t_-]*solutions?\b", flags=re.I)  # exact markers match too
# What makes a cell tagged course-badge / course-setup a stamp (see the module docstring)
BADGE_STAMP = re.compile(
    r'<a href="https://colab\.research\.google\.com/github/[^"<>]*" target="_parent"><img '
    r'src="https://colab\.research\.google\.com/assets/colab-badge\.svg" alt="Open In Colab"/></a>'
)
SETUP_STAMP_TITLES = ("# @title Course set-up", "# Set-up: in Google Colab")
SETUP_STAMP_NOTE = "Stamped by `python -m course_utils.build`"
SETUP_STAMP_LAST_LINE = "course_utils.check_version(COURSE_VERSION)"


class BuildError(ValueError):
    """A solution notebook breaks a rule of the build; the message names the notebook and the cell."""


# ---------------------------------------------------------------- configuration (pyproject.toml)
def course_config(root: Path = ROOT) -> dict:
    """``[tool.course]`` of pyproject.toml with ``{version}`` filled in: repository, ref, version."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib  # Python 3.11+

        table = tomllib.loads(text)["tool"]["course"]
    except ImportError:  # Python < 3.11: the table is two plain `key = "value"` lines
        block = text.split("[tool.course]", 1)[1].split("\n[", 1)[0]
        table = dict(re.findall(r'^(\w+)\s*=\s*"([^"]*)"', block, flags=re.M))
    repo = table["repository"].rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", repo):
        raise BuildError(f"[tool.course] repository must be https://github.com/OWNER/NAME, not {repo!r}")
    return {"repository": repo, "ref": table["ref"].format(version=__version__), "version": __version__}


# ---------------------------------------------------------------- cell transformations
def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _lines(text: str) -> list[str]:
    """nbformat's on-disk form of a source: lines keeping their newlines."""
    return text.splitlines(keepends=True)


DEFINITION = re.compile(r"^([ \t]*)(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)")


def enclosing_name(lines: list[str], indent: str) -> str | None:
    """The dotted name of the ``def`` / ``class`` blocks that enclose a line at ``indent`` after ``lines``
    (``"Net.forward"``; ``"Net"`` in ``Net.__init__``), or None at the top level of the cell."""
    names, limit = [], len(indent.expandtabs())
    for line in reversed(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        width = len(line[: len(line) - len(line.lstrip())].expandtabs())
        if width >= limit:
            continue
        match = DEFINITION.match(line)
        if match and not (names == [] and re.fullmatch(r"__\w+__", match.group(2))):  # EncoderBlock, not .__init__
            names.insert(0, match.group(2))
        limit = width
        if limit == 0:
            break
    return ".".join(names) or None


def stub(name: str | None) -> str:
    """The line that replaces an answer: ``raise NotImplementedError("...")`` saying what is not written yet.
    The self-checks (:mod:`course_utils.checks`) recognise it by its type."""
    if name:
        message = f"{name}: not written yet. Finish this exercise, then run the cells below again."
    else:
        message = "This exercise is not written yet: write your code here, then run this cell and the ones below."
    return f"raise NotImplementedError({message!r})"


def strip_solutions(code: str, where: str = "cell") -> str:
    """Replace every BEGIN/END SOLUTION region of ``code`` by a placeholder at the marker's indentation:
    ``# YOUR CODE HERE`` and the :func:`stub` named after the enclosing ``def`` / ``class``.

    Raises:
        BuildError: markers are unbalanced, nested, or not alone on their line; a line looks like a marker
            but is not exactly one.
    """
    out, indent, line_no = [], None, 0
    for line_no, line in enumerate(code.splitlines(keepends=True), 1):
        stripped = line.strip()
        if BEGIN in line or END in line:
            if stripped not in (BEGIN, END):
                raise BuildError(f"{where}, line {line_no}: put '{BEGIN}' / '{END}' alone on their line")
            if stripped == BEGIN:
                if indent is not None:
                    raise BuildError(f"{where}, line {line_no}: '{BEGIN}' inside another solution block")
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}# YOUR CODE HERE\n{indent}{stub(enclosing_name(out, indent))}\n")
            else:
                if indent is None:
                    raise BuildError(f"{where}, line {line_no}: '{END}' without a '{BEGIN}' before it")
                indent = None
            continue
        if LOOKS_LIKE_MARKER.search(line):
            raise BuildError(
                f"{where}, line {line_no}: {stripped!r} looks like a solution marker but is not one, so the build "
                f"would leave what follows in the student notebook. Write exactly '{BEGIN}' and '{END}' (three #, "
                "capitals, one space), each alone on its line; if it is not a marker, reword it."
            )
        if indent is None:
            out.append(line)
    if indent is not None:
        raise BuildError(f"{where}: '{BEGIN}' is never closed by '{END}'")
    return "".join(out)


def badge_cell(name: str, cfg: dict) -> dict:
    """The "Open in Colab" badge of notebook ``name``: its student version in the public release (the solutions
    are never published, so a solution's badge opens the student version too)."""
    owner_repo = cfg["repository"].removeprefix("https://github.com/")
    url = f"https://colab.research.google.com/github/{owner_repo}/blob/{cfg['ref']}/notebooks/{name}"
    return {
        "cell_type": "markdown",
        "metadata": {"tags": [BADGE_TAG]},
        "source": _lines(
            f'<a href="{url}" target="_parent"><img src="https://colab.research.google.com/assets/colab-badge.svg" '
            f'alt="Open In Colab"/></a>'
        ),
    }


REPOSITORY_OVERRIDE = "COURSE_REPOSITORY_URL"  # for tests only: where the set-up cell clones from


def setup_cell(cfg: dict) -> dict:
    """The set-up cell: in Colab, fetch the course at its release (code, data/ and the reference models)
    and install what it needs; anywhere else only check that the installed package matches the notebook.

    In Colab the course is cloned once per runtime into ``/content/<repository name>`` (a folder made by
    a failed clone never remains: it is cloned beside it and renamed when complete), the packages of its
    requirements.txt are installed (Colab's own PyTorch is kept), and the folder is put first on
    ``sys.path``. A file ``.course-installed`` records the release, so that a re-run or a second notebook
    in the same runtime takes a second. Any failure prints one paragraph: what went wrong, what to do.
    The clone URL can be changed through the environment variable ``COURSE_REPOSITORY_URL``, for tests.
    """
    folder = cfg["repository"].rstrip("/").rsplit("/", 1)[-1]
    code = f'''# @title Course set-up: run this cell first
# In Google Colab it fetches the course at its release (code, data, reference models) and installs what it
# needs (a minute, once per runtime); anywhere else it only checks the version.
# Stamped by `python -m course_utils.build` from pyproject.toml: do not edit.
import os, sys, shutil, subprocess
COURSE_VERSION, COURSE_RELEASE = "{cfg["version"]}", "{cfg["ref"]}"
if "google.colab" in sys.modules:
    def course_setup(url, folder, ref=COURSE_RELEASE):
        where = os.path.abspath(folder)
        done, partial = os.path.join(where, ".course-installed"), where + ".partial"
        def last_line(text):
            return (text or "").strip().splitlines()[-1:] or ["(no message)"]
        def fail(what):
            print(f"Course set-up failed: {{what}}\\nWhat to do: check that the release {{ref}} exists at {{url}} "
                  f"and that this runtime is online, then run this cell again. Without network: download the "
                  f"release's archive ({{url}}/releases/tag/{{ref}}, Source code zip), upload it, unzip it and "
                  f"name the folder {{where}}. By hand, in a cell: !git clone --depth 1 --branch {{ref}} {{url}} "
                  f"{{folder}} && pip install -r {{folder}}/requirements.txt")
            raise RuntimeError("the course set-up failed: read the message above") from None
        if os.path.isfile(done) and open(done).read().strip() != ref:
            fail(f"{{where}} holds release {{open(done).read().strip()}}, but this notebook needs {{ref}}. "
                 "Delete that folder (Files panel), or use Runtime > Disconnect and delete runtime.")
        if not os.path.isdir(where):
            shutil.rmtree(partial, ignore_errors=True)  # left by an interrupted clone
            try:
                subprocess.run(["git", "-c", "advice.detachedHead=false", "clone", "--quiet", "--depth", "1",
                                "--branch", ref, url, partial], check=True, capture_output=True, text=True)
            except FileNotFoundError:
                fail("git is not installed here.")
            except subprocess.CalledProcessError as e:
                shutil.rmtree(partial, ignore_errors=True)
                fail(f"git could not clone release {{ref}} of {{url}}: {{last_line(e.stderr)[0]}}")
            os.rename(partial, where)
        if not os.path.isfile(os.path.join(where, "course_utils", "__init__.py")):
            fail(f"{{where}} exists but holds no course (no course_utils/ inside): rename or delete it.")
        if not os.path.isfile(done):
            pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r",
                                  os.path.join(where, "requirements.txt")], capture_output=True, text=True)
            if pip.returncode != 0:
                fail(f"pip could not install the course's requirements: {{last_line(pip.stderr)[0]}}")
            with open(done, "w") as f:
                f.write(ref)
        if where not in sys.path:
            sys.path.insert(0, where)
    course_setup(os.environ.get("{REPOSITORY_OVERRIDE}", "{cfg["repository"]}"), "{folder}")
import course_utils
course_utils.check_version(COURSE_VERSION)'''
    meta = {"tags": [SETUP_TAG], "cellView": "form", "jupyter": {"source_hidden": True}}  # code folded away
    return {"cell_type": "code", "execution_count": None, "metadata": meta, "outputs": [], "source": _lines(code)}


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _stamped_version(cell) -> str | None:
    match = re.search(r'^COURSE_VERSION\b.*?"([^"]+)"', _source(cell), flags=re.M)
    return match and match.group(1)


def _is_stamp(cell, tag: str) -> bool:
    """Whether ``cell``, tagged ``tag``, is a badge or set-up cell stamped by this build or an earlier one."""
    src = _source(cell).strip()
    if tag == BADGE_TAG:
        return cell.get("cell_type") == "markdown" and BADGE_STAMP.fullmatch(src) is not None
    lines = src.splitlines()
    return (
        cell.get("cell_type") == "code"
        and bool(lines)
        and lines[0].startswith(SETUP_STAMP_TITLES)
        and SETUP_STAMP_NOTE in src
        and lines[-1] == SETUP_STAMP_LAST_LINE
    )


def stamp_header(nb: dict, name: str, cfg: dict) -> dict:
    """Return ``nb`` with fresh badge and set-up cells at the top. The set-up cell's stored output and execution
    count are kept while the version it checks stays the same (outside Colab, its output is that check).

    Raises:
        BuildError: a cell tagged ``course-badge`` or ``course-setup`` is not a stamp (see the module docstring):
            replacing it would lose what the instructor wrote.
    """
    for i, cell in enumerate(nb["cells"]):
        for tag in (BADGE_TAG, SETUP_TAG):
            if tag in _tags(cell) and not _is_stamp(cell, tag):
                what = "'Open in Colab' badge" if tag == BADGE_TAG else "set-up cell"
                raise BuildError(
                    f"{name}, cell {i} is tagged '{tag}' but is not the {what} that the build stamps: the build "
                    f"replaces the cells with that tag, so your text would be lost. If it is a cell of your own, "
                    f"remove the tag '{tag}' from it (it then stays where it is). To change the stamped cells, edit "
                    "[tool.course] in pyproject.toml or badge_cell() / setup_cell() in course_utils/build.py."
                )
    nb = copy.deepcopy(nb)
    old = {t: c for c in nb["cells"] for t in _tags(c) if t in (BADGE_TAG, SETUP_TAG)}
    rest = [c for c in nb["cells"] if not set(_tags(c)) & {BADGE_TAG, SETUP_TAG}]
    setup = setup_cell(cfg)
    if SETUP_TAG in old and _stamped_version(old[SETUP_TAG]) == cfg["version"]:
        setup["outputs"] = old[SETUP_TAG].get("outputs", [])
        setup["execution_count"] = old[SETUP_TAG].get("execution_count")
    badge = badge_cell(name, cfg)
    badge["id"], setup["id"] = BADGE_TAG, SETUP_TAG  # stable ids: a rebuild changes nothing
    nb["cells"] = [badge, setup] + rest
    try:
        return stamp_graded(nb, name.removesuffix(".ipynb"))
    except GradingSpecError as e:
        raise BuildError(str(e)) from None


def student_version(solution: dict, name: str, cfg: dict) -> dict:
    """The student notebook made from a solution notebook (see the module docstring)."""
    nb = stamp_header(solution, name, cfg)
    cells = []
    for i, cell in enumerate(nb["cells"]):
        tags = _tags(cell)
        if INSTRUCTOR_TAG in tags:
            continue
        cell = copy.deepcopy(cell)
        src = _source(cell)
        if cell["cell_type"] == "code":
            if SOLUTION_TAG in tags:
                raise BuildError(
                    f"{name}, cell {i}: a code cell tagged 'solution' would reach the students as it is (the build "
                    f"strips code only between markers). Put '{BEGIN}' and '{END}' around the answer and remove "
                    "the tag 'solution'."
                )
            code = strip_solutions(src, f"{name}, cell {i}")
            cell["source"] = _lines(NBVAL_MARKER.sub("", code))  # testing markers mean nothing to students
            cell["outputs"], cell["execution_count"] = [], None
        elif SOLUTION_TAG in tags:
            cell["source"] = _lines(ANSWER_PROMPT)
            cell["metadata"]["tags"] = [t for t in tags if t != SOLUTION_TAG]
            cell.pop("attachments", None)  # the answer's pictures
        elif LOOKS_LIKE_MARKER.search(src):
            raise BuildError(
                f"{name}, cell {i}: solution markers (or text like them) in a {cell['cell_type']} cell, which the "
                "build would copy as it is: tag the cell 'solution' (it becomes an answer prompt), or reword it"
            )
        meta = cell.get("metadata", {})
        for key in ("execution", "collapsed", "scrolled"):
            meta.pop(key, None)
        cells.append(cell)
    nb["cells"] = cells
    keep = ("kernelspec", "language_info", "course")  # "course": the notebook's id and version, for the grader
    nb["metadata"] = {k: v for k, v in nb.get("metadata", {}).items() if k in keep}
    return nb


def dumps(nb: dict) -> str:
    """Serialise as nbformat does (1-space indent, sorted keys, UTF-8, final newline)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- whole-course operations
def read_notebook(path: Path, root: Path = ROOT) -> dict:
    """The notebook in ``path``, checked to be one: a JSON object with a list of cells (code, markdown or raw,
    each with a text source).

    Raises:
        BuildError: it is not, with the file's name and what to do.
    """
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    fix = f"Restore it (git checkout -- {shown}) or save it again from Jupyter."
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise BuildError(f"{shown} is not a Jupyter notebook: it is not UTF-8 text (byte {e.start}). {fix}") from None
    except json.JSONDecodeError as e:
        raise BuildError(f"{shown} is not a Jupyter notebook: its JSON is invalid ({e}). {fix}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        found = f"a JSON {type(nb).__name__}" if not isinstance(nb, dict) else "an object without a list of cells"
        raise BuildError(
            f"{shown} is not a Jupyter notebook: a notebook is a JSON object with a list 'cells'; found {found}. {fix}"
        )
    for i, cell in enumerate(nb["cells"]):
        src = cell.get("source", "") if isinstance(cell, dict) else None
        if (
            not isinstance(cell, dict)
            or cell.get("cell_type") not in ("code", "markdown", "raw")
            or not isinstance(cell.get("metadata", {}), dict)
            or not isinstance(cell.get("metadata", {}).get("tags", []), list)
            or not (isinstance(src, str) or (isinstance(src, list) and all(isinstance(s, str) for s in src)))
        ):
            raise BuildError(
                f"{shown} is not a Jupyter notebook: its cell {i} is not a code, markdown or raw cell with a text "
                f"source and a list of tags. {fix}"
            )
    return nb


def planned_writes(root: Path = ROOT) -> dict[Path, str]:
    """Every file the build would write, with its content."""
    cfg = course_config(root)
    writes = {}
    solutions = sorted((root / "solutions").glob("[0-9][0-9]_*.ipynb"))
    if not solutions:
        raise BuildError(f"no solution notebooks (NN_name.ipynb) in {root / 'solutions'}")
    for path in solutions:
        nb = read_notebook(path, root)
        writes[path] = dumps(stamp_header(nb, path.name, cfg))
        writes[root / "notebooks" / path.name] = dumps(student_version(nb, path.name, cfg))
    return writes


def stale(root: Path = ROOT) -> list[str]:
    """What is out of date: files the build would change, and student notebooks with no solution."""
    problems = []
    writes = planned_writes(root)
    for path, text in writes.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            problems.append(f"{path.relative_to(root)} is stale")
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        if path not in writes:
            problems.append(f"{path.relative_to(root)} has no solutions/{path.name}")
    return problems


def build(root: Path = ROOT) -> list[Path]:
    """Write every changed file (atomically) and return the paths written."""
    written = []
    for path, text in planned_writes(root).items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        with atomic_path(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        written.append(path)
    return written


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _is_widget_view(output) -> bool:
    """An output that only a live widget can show (a tqdm.auto bar, an ipywidgets control): saved without the
    widget's state, a reopened notebook shows "Error displaying widget: model not found" in its place."""
    return WIDGET_VIEW in output.get("data", {})


def execute(pattern: str, root: Path = ROOT, timeout: int = 1800) -> list[Path]:
    """Re-run the matching solution notebooks top to bottom on a fresh kernel at the CPU budget and
    store their outputs, then rebuild. A notebook that fails is left untouched.

    The kernel runs with ``COURSE_STATIC_WIDGETS=1``: the explorers draw a static figure of their default view
    instead of widgets (:func:`course_utils.plotting.storing_outputs`); any other widget view is dropped from
    the stored outputs, with the notebook's widget state."""
    import nbformat
    from nbclient import NotebookClient

    from .plotting import STATIC_WIDGETS_ENV

    build(root)  # stamp headers first, so the stored outputs come from the stamped cells
    done = []
    for path in sorted((root / "solutions").glob(f"*{pattern}*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        env = {"COURSE_BUDGET": "cpu", "COURSE_FAST": "0", STATIC_WIDGETS_ENV: "1"}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            print(f"executing {path.name} at the CPU budget ...", flush=True)
            t0 = time.perf_counter()
            NotebookClient(
                nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
            ).execute()
            print(f"  {path.name}: {time.perf_counter() - t0:.0f} s", flush=True)
        finally:
            for k, v in old.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        nb.metadata.pop("widgets", None)
        for cell in nb.cells:  # a widget view cannot be shown without its (unsaved) state
            if cell.cell_type == "code":
                cell.outputs = [o for o in cell.outputs if not _is_widget_view(o)]
        with atomic_path(path) as tmp:
            nbformat.write(nb, tmp)
        done.append(path)
    if not done:
        raise BuildError(f"no solution notebook matches {pattern!r}")
    build(root)
    return done


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if notebooks/ or headers are stale")
    parser.add_argument("--execute", metavar="PATTERN", help="re-run matching solutions (e.g. 01) and store outputs")
    parser.add_argument("--release", metavar="DIR", help="write the student release into DIR (see README.md)")
    args = parser.parse_args(argv)
    try:
        if args.release:
            from .release import write_release

            written = write_release(args.release)
            print(f"wrote the release of course_utils {__version__} ({len(written)} files) into {args.release}")
            print(f"next: commit it there and tag it {course_config()['ref']} (README.md, 'Publishing a release')")
            return 0
        if args.check:
            problems = stale()
            for p in problems:
                print("stale:", p)
            if problems:
                print("Run `python -m course_utils.build` and commit the result.")
                return 1
            print("notebooks are up to date")
            return 0
        if args.execute:
            for p in execute(args.execute):
                print("executed", p.relative_to(ROOT))
            return 0
        written = build()
        for p in written:
            print("wrote", p.relative_to(ROOT))
        if not written:
            print("nothing to do: notebooks are up to date")
        return 0
    except BuildError as e:
        print("error:", e, file=sys.stderr)
        return 2


if __name__ == "__main__":  # run the module's importable copy, so that its errors are the ones caught
    from course_utils.build import main as _main

    sys.exit(_main())
