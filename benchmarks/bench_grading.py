"""Speed of the grader (prints numbers; not a test).

    python benchmarks/bench_grading.py [--submissions 30] [--jobs 2] [--notebook 02] [--baseline-runs 3]

Builds ``--submissions`` fixture submissions of the notebook from the course's own notebooks (a third the solution
with outputs cleared, a third the untouched student version, a third with the first exercise solved), grades them
with ``python -m course_utils.grade --jobs N`` as an instructor would, and prints the wall time, the seconds per
submission (wall time / submissions) and each submission's own grading time (median). The baseline is the same
solution notebook executed once with nbclient in a fresh kernel at the same budget (median of
``--baseline-runs``), timed in the same run: the grader's overhead is its median time per submission against
that baseline.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_utils.exercises import graded_items  # noqa: E402
from course_utils.grade import solution_path  # noqa: E402


def cleared(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    return nb


def fixtures(notebook: str, n: int, folder: Path) -> None:
    path = solution_path(notebook)
    solution = cleared(json.loads(path.read_text(encoding="utf-8")))
    student = json.loads((ROOT / "notebooks" / path.name).read_text(encoding="utf-8"))
    first = graded_items(solution, path.stem).exercises[0]
    one = copy.deepcopy(student)  # the cell defining the first exercise's name, taken from the solution
    definition = (f"def {first.target}", f"class {first.target}")
    for i, cell in enumerate(one["cells"]):
        if cell["cell_type"] == "code" and "".join(cell["source"]).lstrip().startswith(definition):
            one["cells"][i] = copy.deepcopy(
                next(c for c in solution["cells"] if "".join(c["source"]).lstrip().startswith(definition))
            )
    kinds = [("solution", solution), ("untouched", student), ("one_solved", one)]
    for k in range(n):
        name, nb = kinds[k % 3]
        (folder / f"student{k:02d}_{name}.ipynb").write_text(json.dumps(nb), encoding="utf-8")


def nbclient_once(path: Path) -> float:
    """Seconds to execute ``path`` once with nbclient in a fresh kernel at the grading budget."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    with tempfile.TemporaryDirectory() as where:
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": where}}).execute()
        return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--notebook", default="02")
    parser.add_argument("--baseline-runs", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(COURSE_BUDGET="fast", COURSE_FAST="", MPLBACKEND="Agg")
    print(f"{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}")
    path = solution_path(args.notebook)
    baseline = [nbclient_once(path) for _ in range(args.baseline_runs)]
    print(
        f"nbclient, {path.name} once in a fresh kernel: median {statistics.median(baseline):.1f} s "
        f"({', '.join(f'{b:.1f}' for b in baseline)})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        subs, out = Path(tmp) / "submissions", Path(tmp) / "out"
        subs.mkdir()
        fixtures(args.notebook, args.submissions, subs)
        t0 = time.perf_counter()
        command = [
            sys.executable,
            "-m",
            "course_utils.grade",
            str(subs),
            "--notebook",
            args.notebook,
            "--out",
            str(out),
            "--jobs",
            str(args.jobs),
        ]
        run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if run.returncode != 0:
            sys.exit(f"the grader failed:\n{run.stdout}\n{run.stderr}")
        each = [float(line.rsplit("(", 1)[1].split(" s)")[0]) for line in run.stdout.splitlines() if " s)" in line]
        rows = (out / "grades.csv").read_text(encoding="utf-8").splitlines()[1:]
    ok = sum(",ok," in row for row in rows)
    median = statistics.median(each)
    print(
        f"grader, {args.submissions} submissions of {path.name} with --jobs {args.jobs}: {wall:.0f} s wall, "
        f"{wall / args.submissions:.1f} s per submission ({ok} with status ok)"
    )
    print(
        f"one submission's own grading time: median {median:.1f} s (min {min(each):.1f}, max {max(each):.1f}); "
        f"against nbclient once: x{median / statistics.median(baseline):.2f}"
    )


if __name__ == "__main__":
    main()
