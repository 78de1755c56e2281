"""The student release: the public repository that students clone (``python -m course_utils.build --release DIR``).

The course lives in two repositories. This one is the instructors' (keep it private: ``solutions/`` holds every
answer). The release is the public one that the *Open in Colab* badges and the set-up cells point at
(``[tool.course] repository`` in pyproject.toml, tag ``v<version>``). A release holds:

* ``notebooks/``: the student notebooks, built afresh from ``solutions/`` (no outputs, no answers, no
  ``instructor`` cells);
* ``course_utils/``, ``data/`` (the reference models; never the download cache) and ``scripts/`` (how the
  reference models were trained), as committed here;
* ``README.md`` for students (written by :func:`student_readme`), ``LICENSE``, ``requirements.txt``,
  ``pyproject.toml`` (without the test configuration);
* ``.course-release``: the version and the commit of this repository it was made from.

It holds no ``solutions/``, no tests, no benchmarks, no grading material. ``course_utils`` keeps the reference
implementations the self-checks compare against: students can read them, as in most open courses.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from .build import ROOT, BuildError, course_config, planned_writes

__all__ = ["MARKER", "release_files", "student_readme", "write_release"]

MARKER = ".course-release"
COPIED = ("LICENSE", "requirements.txt")
TREES = ("course_utils", "data", "scripts")
LEFT_OUT = {"__pycache__", ".ipynb_checkpoints", "cache"}  # never released, committed or not


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout


def _tree_files(root: Path, top: str) -> list[Path]:
    """The files under ``root/top`` to release: those git tracks (or, outside a git checkout, all of them),
    minus caches and compiled files."""
    tracked = _git(root, "ls-files", "-z", "--", top)
    if tracked is not None:
        paths = [root / p for p in tracked.split("\0") if p and (root / p).is_file()]
    else:
        paths = [p for p in sorted((root / top).rglob("*")) if p.is_file()]
    return [p for p in paths if not LEFT_OUT & set(p.relative_to(root).parts) and p.suffix != ".pyc"]


def _section(markdown: str, heading: str) -> str:
    """The body of the ``## heading`` section of a markdown text (up to the next ``## ``)."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, flags=re.M | re.S)
    if not match:
        raise BuildError(f"README.md has no '## {heading}' section, which the student README takes from it")
    return match.group(1).strip()


def student_readme(root: Path = ROOT) -> str:
    """The release's README.md: what the course is, the notebooks with their Colab links, how to work locally,
    how to ask for help. The course's description and the notebook table are taken from this repository's
    README.md (their one home)."""
    cfg = course_config(root)
    readme = (root / "README.md").read_text(encoding="utf-8")
    intro = readme.split("\n## ", 1)[0].split("\n", 1)[1].strip()
    rows = []
    for line in _section(readme, "The notebooks").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        link = re.search(r"\((notebooks/[^)]+\.ipynb)\)", line)
        if len(cells) >= 3 and link:
            owner_repo = cfg["repository"].removeprefix("https://github.com/")
            colab = f"https://colab.research.google.com/github/{owner_repo}/blob/{cfg['ref']}/{link.group(1)}"
            rows.append(f"| {cells[0]} | {cells[1]} | {cells[2]} | [open in Colab]({colab}) |")
    if not rows:
        raise BuildError("README.md's '## The notebooks' table lists no notebooks/NN_name.ipynb")
    table = "\n".join(["| # | notebook | what you learn | Colab |", "|---|----------|----------------|-------|", *rows])
    return f"""# Pixel-level deep learning with U-Nets

Release {cfg["version"]} (tag `{cfg["ref"]}`).

{intro}

## The notebooks

{table}

## Open a notebook in Google Colab

Click *open in Colab* next to a notebook (or the badge at the top of the notebook on GitHub), then run the
first code cell, *Course set-up*: it fetches this release (code, data and reference models), installs what it
needs without touching Colab's PyTorch, and prints one line with the version, the device and the training budget.
For a GPU: *Runtime > Change runtime type > GPU*, before you run anything. Save your work with
*File > Save a copy in Drive*: Colab forgets a notebook you did not save.

## Or on your own computer (Linux, macOS or Windows, Python 3.9 or newer)

```bash
git clone --branch {cfg["ref"]} {cfg["repository"]}.git
cd {cfg["repository"].rsplit("/", 1)[-1]}
python -m venv .venv
.venv/bin/python -m pip install -e ".[lab]"     # JupyterLab too; Windows: .venv\\Scripts\\python -m pip ...
.venv/bin/jupyter lab notebooks/
```

The first install downloads PyTorch (up to a few GB). After that everything runs offline: the notebooks draw
synthetic images or use photographs that ship with scikit-image. Without a GPU each notebook trains at the
`cpu` budget, a few minutes on a laptop (`COURSE_BUDGET=full|cpu|fast` chooses another).

## Exercises

A cell with `# YOUR CODE HERE` and `raise NotImplementedError` is yours to write. The cell after it checks your
answer and says what is wrong, if anything: ✅ correct, ❌ not yet (with the reason). A cell with
*Your answer* asks for a few sentences in your own words. The reference implementations that the checks
compare against are in `course_utils/`: you can read them, but you learn by writing your own first.

## Getting help

Ask your instructor or your course's forum first. If the course itself seems wrong (a cell fails that you did
not change, a message that does not help), open an issue at {cfg["repository"]}/issues and paste: the
notebook's number, the cell, the whole error message, and the line the set-up cell printed (version, device,
budget).

## Licence

The code and the notebooks: see `LICENSE`. The data and reference models: see `data/README.md`.
"""


def _release_pyproject(root: Path) -> str:
    """pyproject.toml without the test configuration (it points at solutions/, which a release has not)."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    return re.sub(r"^\[tool\.pytest\.ini_options\]\n.*?(?=^\[|\Z)", "", text, flags=re.M | re.S).rstrip() + "\n"


def release_files(root: Path = ROOT) -> dict[str, bytes]:
    """Every file of the release, by its path inside the release (see the module docstring)."""
    cfg = course_config(root)
    files = {name: (root / name).read_bytes() for name in COPIED}
    files["pyproject.toml"] = _release_pyproject(root).encode()
    for top in TREES:
        for path in _tree_files(root, top):
            files[path.relative_to(root).as_posix()] = path.read_bytes()
    for path, text in planned_writes(root).items():
        if path.parent.name == "notebooks":
            files[f"notebooks/{path.name}"] = text.encode()
    files["README.md"] = student_readme(root).encode()
    source = (_git(root, "describe", "--always", "--dirty") or "not a git checkout").strip()
    files[MARKER] = (
        json.dumps({"version": cfg["version"], "tag": cfg["ref"], "made from": source}, indent=1) + "\n"
    ).encode()
    return files


def write_release(dest, root: Path = ROOT) -> list[str]:
    """Write the release into ``dest`` and return the paths written (relative to ``dest``).

    ``dest`` must be missing, empty, or a previous release (it holds ``.course-release``), e.g. the checkout of
    the release repository: then everything in it but ``.git`` is replaced, so that files removed from the
    course disappear from the release too. A checkout with uncommitted changes is refused, so nothing of yours
    is lost.

    Raises:
        BuildError: ``dest`` is something else, or has uncommitted changes.
    """
    dest = Path(dest).resolve()
    if dest == root.resolve() or root.resolve() in dest.parents:
        raise BuildError(f"write the release outside this repository, not into {dest}")
    if dest.exists() and not dest.is_dir():
        raise BuildError(f"{dest} is a file; give a folder for the release")
    existing = [p for p in dest.iterdir() if p.name != ".git"] if dest.exists() else []
    if existing and not (dest / MARKER).is_file():
        raise BuildError(
            f"{dest} is not empty and holds no {MARKER}: choose an empty folder, or the checkout of "
            "the release repository made by an earlier --release"
        )
    if (dest / ".git").exists() and (_git(dest, "status", "--porcelain") or "").strip():
        raise BuildError(f"{dest} has uncommitted changes: commit or discard them first (git -C {dest} status)")
    files = release_files(root)  # everything is read before anything is removed
    for path in existing:
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    for rel, data in sorted(files.items()):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return sorted(files)
