"""A fresh Jupyter kernel for one run of untrusted notebook code: its own process and folder, a time limit per
request, a memory limit, a small environment. What the grader (:mod:`course_utils.grade`) runs submissions in.

    with Kernel(folder, env={"COURSE_BUDGET": "fast"}, memory_gb=4) as k:
        outcome = k.run("x = 1 + 1", timeout=60)                      # a cell
        outcome = k.run("", timeout=5, silent=True, expressions={"x": "x"})   # a probe; outcome.values["x"] == "2"

It is not a container: the code runs as the grader's user and can read what that user can read (see the
instructor section of README.md). What it does give: the kernel is this interpreter's own ipykernel (not
whatever "python3" kernel is installed), its working folder, ``HOME`` and ``TMPDIR`` are ``folder``, its
environment holds only what is listed in :data:`PASSED_ON` plus ``env``, its data segment is capped (Linux:
``RLIMIT_DATA``, so that a memory blow-up raises ``MemoryError`` instead of taking the machine down), it talks
over local sockets in ``folder`` (POSIX), and it never waits for input (``input()`` raises).
"""

from __future__ import annotations

import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Kernel", "Outcome", "KernelStartError"]

# Environment variables a kernel inherits from the grader (everything else is left out: tokens, paths of the
# submissions, the instructor's settings)
PASSED_ON = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "VIRTUAL_ENV", "CONDA_PREFIX", "SYSTEMROOT", "PYTHONPATH")
GRACE = 10.0  # seconds an interrupted request gets to stop before the kernel is killed
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class KernelStartError(RuntimeError):
    """The kernel did not start (ipykernel missing, or the machine out of resources): nothing can be graded."""


@dataclass
class Outcome:
    """What one request did.

    ``status``: ``"ok"``, ``"error"`` (the code raised: ``ename``, ``evalue``, ``traceback``), ``"timeout"``
    (stopped after its time limit; the kernel lives on), ``"stuck"`` (did not stop when interrupted: the kernel
    was killed) or ``"died"`` (the kernel process ended). ``values``: the requested expressions' plain-text
    values (those that raised are missing). ``seconds``: how long it took.
    """

    status: str
    ename: str = ""
    evalue: str = ""
    traceback: str = ""
    values: dict = field(default_factory=dict)
    seconds: float = 0.0


def _limit_memory(gigabytes: float):
    """A ``preexec_fn`` capping the kernel's data segment (Linux counts anonymous memory maps in it)."""

    def apply():
        import resource

        cap = int(gigabytes * 2**30)
        resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))

    return apply


class Kernel:
    """An IPython kernel of this interpreter, working in ``folder``; use as a context manager (it is shut down
    and its sockets removed on exit).

    Args:
        folder: an existing, empty folder of its own: the working folder, ``HOME`` and ``TMPDIR``.
        env: variables added to its small environment (see :data:`PASSED_ON`).
        memory_gb: the cap on its data segment in GiB (Linux only; elsewhere no cap), None for none.
        startup_timeout: seconds to wait for it to answer.

    Raises:
        KernelStartError: it did not start.
    """

    def __init__(self, folder, env: dict | None = None, memory_gb: float | None = 4.0, startup_timeout=60.0):
        from jupyter_client import KernelManager
        from jupyter_client.kernelspec import KernelSpec, KernelSpecManager

        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]

        class _ThisPython(KernelSpecManager):  # the grader's interpreter, whatever kernels are installed
            def get_kernel_spec(self, kernel_name):
                return KernelSpec(argv=argv, display_name="course grader", language="python")

        self.folder = Path(folder)
        environment = {k: os.environ[k] for k in PASSED_ON if k in os.environ}
        environment.update(HOME=str(self.folder), TMPDIR=str(self.folder), JUPYTER_PLATFORM_DIRS="1")
        environment.update(env or {})
        options = {}
        if os.name == "posix":
            options = dict(transport="ipc", ip=str(self.folder / ".kernel"))
        self.manager = KernelManager(kernel_name="course-grader", kernel_spec_manager=_ThisPython(), **options)
        launch = dict(cwd=str(self.folder), env=environment, stdout=open(os.devnull, "w"), stderr=open(os.devnull, "w"))
        if memory_gb and sys.platform.startswith("linux"):
            launch["preexec_fn"] = _limit_memory(memory_gb)
        try:
            self.manager.start_kernel(**launch)
            self.client = self.manager.client()
            self.client.start_channels()
            self.client.wait_for_ready(timeout=startup_timeout)
        except Exception as e:
            self.close()
            raise KernelStartError(
                f"a Jupyter kernel could not be started ({type(e).__name__}: {e}). Install ipykernel and "
                "jupyter_client in this environment (pip install -e '.[grade]')."
            ) from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def kill(self) -> None:
        """End the kernel's process now; safe from another thread (its requests then end as ``"died"``)."""
        process = getattr(getattr(self.manager, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            process.kill()

    def close(self) -> None:
        """Stop the kernel and remove its connection files (again: nothing happens)."""
        if getattr(self, "_closed", False):
            return
        self._closed = True
        client = getattr(self, "client", None)
        if client is not None:
            client.stop_channels()
        try:
            if self.manager.has_kernel:
                self.manager.shutdown_kernel(now=True)
        except Exception:  # already gone
            pass
        self.manager.cleanup_resources()

    @property
    def alive(self) -> bool:
        return self.manager.is_alive()

    def run(self, code: str, timeout: float, silent: bool = False, expressions: dict | None = None) -> Outcome:
        """Run ``code`` (silently: no history, no execution count) with a time limit, then evaluate
        ``expressions`` (name -> Python expression) in the user's namespace. Never raises for what the code
        does; see :class:`Outcome`."""
        start = time.monotonic()
        if not self.alive:
            return Outcome("died")
        msg_id = self.client.execute(
            code, silent=silent, store_history=not silent, user_expressions=expressions or {}, allow_stdin=False
        )
        deadline, status, error = start + timeout, "ok", None
        while True:  # iopub until the kernel is idle again for this request
            try:
                msg = self.client.get_iopub_msg(timeout=0.2)
            except Exception:  # nothing within 0.2 s: check the clock and the process
                if not self.alive:
                    return Outcome("died", seconds=time.monotonic() - start)
                now = time.monotonic()
                if now > deadline and status == "ok":
                    status = "timeout"
                    self.manager.interrupt_kernel()
                    deadline = now + GRACE
                elif now > deadline:
                    self.manager.shutdown_kernel(now=True)
                    return Outcome("stuck", seconds=time.monotonic() - start)
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "error" and error is None:
                error = content
            if kind == "status" and content["execution_state"] == "idle":
                break
        values = {}
        try:
            reply = self.client.get_shell_msg(timeout=GRACE)
            while reply["parent_header"].get("msg_id") != msg_id:  # a late reply to an earlier request
                reply = self.client.get_shell_msg(timeout=GRACE)
            for name, value in reply["content"].get("user_expressions", {}).items():
                if value.get("status") == "ok":
                    values[name] = value["data"].get("text/plain", "")
        except Exception:  # no reply: the kernel went away right after
            pass
        outcome = Outcome(status, values=values, seconds=time.monotonic() - start)
        if error is not None and status == "ok":
            outcome.status = "error"
        if error is not None:
            outcome.ename, outcome.evalue = error.get("ename", ""), error.get("evalue", "")
            outcome.traceback = ANSI.sub("", "\n".join(error.get("traceback", [])))
        return outcome
