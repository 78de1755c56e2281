"""What a student sees in JupyterLab, checked in a real browser (run before a release: `make browser-check`).

    .venv-browser/bin/python scripts/browser_check.py [--kernel-python .venv/bin/python] [--notebooks 01 03]

For each notebook (default: 01 and 03, whose explorers are widgets), on a copy in a temporary folder:

1. **stored**: the solution as stored in the repository is opened in JupyterLab (no kernel run): no
   "Error displaying widget" / "model not found" / "interactive(children=" text is shown, and every explorer
   cell shows a figure;
2. **live**: the same solution, outputs cleared, is run top to bottom (Run > Run All Cells) at the fast budget
   (``COURSE_FAST=1``); in each explorer cell, exactly one figure is shown; a slider is moved (keyboard, as a
   student would) and the figure must change and still appear exactly once; after the run, no widget error text
   is shown anywhere in the notebook.

Why the solutions, not the student versions: a student notebook's Run All stops at its first exercise (it raises
NotImplementedError until written), before the explorers; the explorers' code is the same in both.

JupyterLab 4 (and ipywidgets' front end) and Playwright come from ``.venv-browser`` (``make browser-check``
creates it); the browser is the system's Chromium (Debian's ``chromium`` package, ``/usr/bin/chromium``:
Playwright's own browser download is not used); the notebooks' kernel is ``--kernel-python`` (the test
environment, which has PyTorch and this checkout's course_utils on its path). Exits 1 on any failure, with what
was seen; screenshots of the failing pages, and of each explorer after its slider moved, are written to ``--shots``
(default: a temporary folder, printed on failure).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
EXPLORERS = ("explore_conv_transpose(", "explore_threshold(")
WIDGET_ERRORS = ("Error displaying widget", "model not found", "interactive(children=")


class CheckFailed(AssertionError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(folder: Path, kernel_python: str, port: int, token: str, log) -> subprocess.Popen:
    """JupyterLab on ``folder`` whose only Python kernel is ``kernel_python``, with its own settings."""
    home = folder / ".jupyter-home"
    spec = home / "data" / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [kernel_python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python 3 (course)",
                "language": "python",
            }
        )
    )
    # every cell stays in the page (JupyterLab may otherwise leave cells out of view unrendered)
    tracker = home / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    news = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))  # no "official Jupyter news?" toast over the cells
    env = {
        **os.environ,
        "JUPYTER_PATH": str(home / "data"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "PYTHONPATH": str(ROOT),  # the kernel imports this checkout's course_utils
        "COURSE_FAST": "1",
    }
    for key in ("MPLBACKEND", "COURSE_STATIC_WIDGETS", "COURSE_BUDGET"):
        env.pop(key, None)
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # this check's machine runs as root; students do not
    lab = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
            return lab
        except OSError:
            if lab.poll() is not None:
                raise CheckFailed(f"JupyterLab exited with {lab.returncode}: see {log.name}") from None
            time.sleep(0.5)
    raise CheckFailed(f"JupyterLab did not answer within 120 s: see {log.name}")


# ---------------------------------------------------------------- in the page
def open_notebook(page, port: int, token: str, name: str) -> None:
    page.goto(f"http://127.0.0.1:{port}/lab/tree/{name}?token={token}&reset", wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=120_000)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=120_000)
    page.wait_for_function(
        """() => { const w = window.jupyterapp.shell.currentWidget;
                   return w && w.sessionContext && w.sessionContext.isReady && w.content.widgets.length > 0; }""",
        timeout=120_000,
    )


def command(page, name: str) -> None:
    page.evaluate(f"() => window.jupyterapp.commands.execute({name!r})")


def wait_until_run(page, timeout_s: float) -> None:
    """Until every code cell that holds code has an execution count, none is queued ([*]) and the kernel is idle."""
    page.wait_for_function(
        """() => { const w = window.jupyterapp.shell.currentWidget;
                   const cells = w.content.widgets.filter(
                       c => c.model.type === 'code' && c.model.sharedModel.getSource().trim() !== '');
                   const queued = [...w.node.querySelectorAll('.jp-InputPrompt')]
                       .some(p => p.textContent.includes('*'));
                   return w.sessionContext.session.kernel.status === 'idle' && !queued
                       && cells.every(c => c.model.executionCount !== null);
                 }""",
        timeout=timeout_s * 1000,
        polling=1000,
    )


def explorer_cells(page):
    """The elements of the cells whose source calls an explorer (read from the notebook's model)."""
    indices = page.evaluate(
        """(calls) => window.jupyterapp.shell.currentWidget.content.widgets
               .map((c, i) => [i, c.model.type === 'code' ? c.model.sharedModel.getSource() : ''])
               .filter(([i, source]) => calls.some(e => source.includes(e))).map(([i, source]) => i)""",
        list(EXPLORERS),
    )
    return [
        page.evaluate_handle(f"() => window.jupyterapp.shell.currentWidget.content.widgets[{i}].node").as_element()
        for i in indices
    ]


def figures(cell) -> list[str]:
    """The ``src`` of the figures (PNG images) shown in a cell's output, widgets' outputs included."""
    return [img.get_attribute("src") for img in cell.query_selector_all(".jp-OutputArea img")]


def widget_error_text(page) -> list[str]:
    text = page.evaluate("() => window.jupyterapp.shell.currentWidget.node.textContent")
    return [e for e in WIDGET_ERRORS if e in text]


def settle(cell, seconds: float = 2.0) -> list[str]:
    """The cell's figures once they stopped changing for ``seconds`` (a doubled figure arrives after the first)."""
    last, since = figures(cell), time.monotonic()
    deadline = since + 30
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = figures(cell)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return now
    return last


def move_a_slider(page, cell) -> None:
    """Press the right arrow on the cell's first slider handle, as a student with a keyboard would."""
    handle = cell.query_selector(".widget-slider .noUi-handle, .widget-hslider .noUi-handle")
    if handle is None:
        raise CheckFailed("no slider in the explorer's cell")
    handle.focus()
    page.keyboard.press("ArrowRight")


# ---------------------------------------------------------------- the checks
def check_stored(page, port, token, name: str) -> list[str]:
    problems = []
    open_notebook(page, port, token, name)
    time.sleep(3)  # let every output render
    errors = widget_error_text(page)
    if errors:
        problems.append(f"{name} (stored): shows {errors}: re-execute it with python -m course_utils.build --execute")
    for cell in explorer_cells(page):
        if len(figures(cell)) != 1:
            problems.append(f"{name} (stored): an explorer cell shows {len(figures(cell))} figures, not 1")
    return problems


def check_live(page, port, token, name: str, timeout_s: float, shots: Path) -> list[str]:
    problems = []
    open_notebook(page, port, token, name)
    t0 = time.monotonic()
    command(page, "notebook:run-all-cells")
    wait_until_run(page, timeout_s)
    print(f"  {name}: ran in {time.monotonic() - t0:.0f} s", flush=True)
    cells = explorer_cells(page)
    if not cells:
        problems.append(f"{name}: no explorer cell found")
    for i, cell in enumerate(cells):
        cell.scroll_into_view_if_needed()
        page.wait_for_selector(".jp-OutputArea img", timeout=60_000)
        before = settle(cell)
        if len(before) != 1:
            problems.append(f"{name}, explorer {i + 1}: {len(before)} figures after running, not 1")
        move_a_slider(page, cell)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and figures(cell) in (before, []):
            time.sleep(0.25)
        after = settle(cell)
        if after == before:
            problems.append(f"{name}, explorer {i + 1}: the figure did not change when a slider moved")
        if len(after) != 1:
            problems.append(f"{name}, explorer {i + 1}: {len(after)} figures after moving a slider, not 1")
        cell.screenshot(path=str(shots / f"{Path(name).stem}_explorer{i + 1}.png"))
        print(
            f"  {name}, explorer {i + 1}: {len(before)} figure(s), then {len(after)} after the slider moved", flush=True
        )
    errors = widget_error_text(page)
    if errors:
        problems.append(f"{name}: after running, the notebook shows {errors}")
    return problems


def cleared(nb: dict) -> dict:
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    nb["metadata"].pop("widgets", None)
    return nb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel-python", default=str(ROOT / ".venv" / "bin" / "python"))
    parser.add_argument("--notebooks", nargs="+", default=["01", "03"])
    parser.add_argument("--skip-stored", action="store_true", help="only the live check")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for one notebook's run")
    parser.add_argument("--shots", help="folder for screenshots (default: a temporary folder)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        print(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
        return 2
    # JupyterLab starts the kernel from the temporary folder: a relative path (make passes .venv/bin/python)
    # would not be found there, and the run would wait for a kernel that never comes. abspath, not resolve:
    # resolving a virtual environment's python follows its link out of the environment.
    args.kernel_python = os.path.abspath(args.kernel_python)
    try:
        probe = subprocess.run(
            [args.kernel_python, "-c", "import ipykernel, course_utils"], capture_output=True, text=True
        )
    except OSError as e:
        probe = subprocess.CompletedProcess(args.kernel_python, 1, "", str(e))
    if probe.returncode != 0:
        print(
            f"the kernel's Python {args.kernel_python} cannot run the notebooks (it needs ipykernel and "
            f"course_utils): {probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else probe.returncode}. "
            "Run `make test` once to create .venv, or pass --kernel-python."
        )
        return 2
    folder = Path(tempfile.mkdtemp(prefix="browser-check-"))
    shots = Path(args.shots or folder / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    names = []
    for pattern in args.notebooks:
        (path,) = sorted((ROOT / "solutions").glob(f"{pattern}_*.ipynb"))
        nb = json.loads(path.read_text(encoding="utf-8"))
        (folder / f"stored_{path.name}").write_text(json.dumps(nb), encoding="utf-8")
        (folder / path.name).write_text(json.dumps(cleared(nb)), encoding="utf-8")
        names.append(path.name)
    port, token = free_port(), secrets.token_hex(16)
    log = open(folder / "jupyterlab.log", "w")
    lab = start_lab(folder, args.kernel_python, port, token, log)
    problems, t0 = [], time.monotonic()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            for name in names:
                for kind in ("stored", "live"):
                    if kind == "stored" and args.skip_stored:
                        continue
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    print(f"{name}: {kind} ...", flush=True)
                    try:
                        if kind == "stored":
                            found = check_stored(page, port, token, f"stored_{name}")
                        else:
                            found = check_live(page, port, token, name, args.timeout, shots)
                    except Exception as e:  # a timeout or a missing element: say where
                        found = [f"{name} ({kind}): {type(e).__name__}: {str(e).splitlines()[0]}"]
                    if found:
                        page.screenshot(path=str(shots / f"{kind}_{name}.png"), full_page=True)
                    problems += found
                    page.close()
            browser.close()
    finally:
        lab.terminate()
        try:
            lab.wait(30)
        except subprocess.TimeoutExpired:
            lab.kill()
        log.close()
    print(f"browser check: {len(names)} notebooks in {time.monotonic() - t0:.0f} s")
    for problem in problems:
        print("FAILED:", problem)
    if problems:
        print(f"screenshots in {shots}; JupyterLab's log: {log.name}")
        return 1
    shutil.rmtree(folder, ignore_errors=True)
    print("passed: each explorer shows one figure, which changes with its sliders; no widget error is shown")
    if args.shots:
        print(f"the explorers after a slider moved: {shots}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
