"""Run one notebook, cell by cell, in a sandboxed kernel, and say what happened to each cell.

The runner lives in the grader's process; only the kernel is in the sandbox (``sandbox.py``).
It talks to the kernel over Unix sockets in the job folder (the sandbox has no network) with
nbclient, and records one ``CellRun`` per code cell: ``ok``, ``error`` (with the exception's
name and message, never its traceback), ``timeout``, ``died`` or ``not_run``.

A crash never costs more than the cell that caused it: after a timeout or a dead kernel
(``os._exit``, a segfault, the memory limit) the kernel is started again, the cells before it
are replayed without their outputs (known-bad cells skipped), and grading goes on with the
next cell. A notebook-wide deadline and a restart budget bound the total cost, and each cell
keeps at most ``Limits.output_kb`` of output, so a flood of prints cannot exhaust the grader.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .sandbox import Limits, drain, kernel_env, processes_of, reap, wrap


@dataclass
class CellRun:
    """What happened when one code cell ran."""

    index: int
    status: str                   # ok, error, timeout, died, not_run
    error: str = ""               # "ename: evalue" for an error; a sentence otherwise
    seconds: float = 0.0


@dataclass
class Execution:
    notebook: nbformat.NotebookNode
    cells: Dict[int, CellRun] = field(default_factory=dict)
    restarts: int = 0


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command runs inside the job's sandbox."""

    sandbox: dict = {}

    def format_kernel_cmd(self, extra_arguments: Optional[List[str]] = None) -> List[str]:
        command = super().format_kernel_cmd(extra_arguments)
        s = self.sandbox
        if s["uid"] is not None:   # written by the grader just before this; the kernel must read it
            os.chown(self.connection_file, s["uid"], s["uid"])
        return wrap(command, s["job"], s["env"], s["limits"], s["uid"], s["use_bwrap"])


# What one output costs beyond its text (its JSON and the grader's objects), so that 10,000 tiny
# displays are capped like one big print.
OUTPUT_OVERHEAD = 100


class _Client(NotebookClient):
    """nbclient with a cap on how much output one cell may keep."""

    output_cap = 256 * 1024

    def output(self, outs, msg, display_id, cell_index):
        used = self._used.get(cell_index, 0)
        content = msg.get("content", {})
        size = OUTPUT_OVERHEAD + len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values()) \
            + sum(len(str(v)) for v in content.get("traceback", []) or [])
        self._used[cell_index] = used + size
        if used + size > self.output_cap and msg["msg_type"] != "error":
            if used <= self.output_cap:
                outs.append(nbformat.v4.new_output(
                    "stream", name="stdout",
                    text=f"\n[output cut: this cell printed more than {self.output_cap // 1024} KB]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)


def run_notebook(nb: nbformat.NotebookNode, job: Path, limits: Limits, *, uid: Optional[int],
                 use_bwrap: bool) -> Execution:
    """Execute ``nb`` (modified in place) in the sandbox of ``job``; returns what each cell did."""
    emit_file = job / "work" / ".seqlab-emitted.jsonl"
    sandbox = {"job": job, "env": kernel_env(job, emit_file), "limits": limits, "uid": uid,
               "use_bwrap": use_bwrap}
    manager = type("JobKernelManager", (SandboxKernelManager,), {"sandbox": sandbox})
    run = Execution(nb)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    deadline = time.monotonic() + limits.notebook_seconds
    bad: set = set()
    position = 0
    while position < len(code):
        client = _start(nb, job, manager, limits)
        kernel = processes_of(uid)            # just started: the kernel is all there is
        try:
            if position:                      # a restart: rebuild the state, outputs discarded
                _replay(client, nb, [i for i in code[:position] if i not in bad], deadline, limits)
            while position < len(code):
                index = code[position]
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                run.cells[index] = _run_cell(client, nb.cells[index], index, min(limits.cell_seconds, left))
                reap(uid, keep=kernel)
                position += 1
                if run.cells[index].status in ("timeout", "died"):
                    bad.add(index)
                    break
        finally:
            _stop(client)
            drain(uid)                        # before the next kernel, or the next submission, of this uid
        if time.monotonic() >= deadline:
            break
        if position < len(code) and run.cells.get(code[position - 1], CellRun(0, "ok")).status in ("timeout", "died"):
            if run.restarts >= limits.restarts:
                break
            run.restarts += 1
    why = ("the notebook's time limit" if time.monotonic() >= deadline
           else f"the kernel was restarted {run.restarts} times, the most allowed")
    for index in code[position:]:
        run.cells.setdefault(index, CellRun(index, "not_run", f"not run: {why} was reached"))
    return run


def _start(nb, job: Path, manager, limits: Limits) -> _Client:
    client = _Client(nb, timeout=limits.cell_seconds, kernel_manager_class=manager, allow_errors=True,
                     record_timing=False, startup_timeout=120, shutdown_kernel="immediate",
                     kernel_name="python3", resources={"metadata": {"path": str(job / "work")}},
                     extra_arguments=["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"])
    client._used = {}
    client.output_cap = limits.output_kb * 1024
    client.km = client.create_kernel_manager()
    client.km.transport = "ipc"
    client.km.ip = str(job / "conn" / "k")
    client.km.connection_file = str(job / "conn" / "kernel.json")
    # The kernel's own stdout/stderr, kept out of the grader's; never through a planted link.
    log = os.fdopen(os.open(job / "kernel.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644), "ab")
    try:
        # Only kernel_env, with or without bubblewrap (which also clears it): the kernel must not
        # inherit the grader's environment, and needs emit mode for its hidden cases.
        client.start_new_kernel(cwd=str(job / "work"), env=dict(manager.sandbox["env"]), stdout=log, stderr=log)
    finally:
        log.close()
    try:
        client.start_new_kernel_client()
    except RuntimeError as err:
        tail = (job / "kernel.log").read_text(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"{err}; the kernel's last words: " + " | ".join(tail)) from None
    return client


def _stop(client: _Client) -> None:
    try:
        client._cleanup_kernel()
    except Exception:  # a kernel that is already gone is what we wanted
        pass


def _run_cell(client: _Client, cell, index: int, timeout: float) -> CellRun:
    client.timeout = max(1, int(timeout))
    cell.outputs = []
    start = time.monotonic()
    try:
        client.execute_cell(cell, index)
    except CellTimeoutError:
        return CellRun(index, "timeout", f"stopped after {int(timeout)} s (the per-cell time limit)",
                       time.monotonic() - start)
    except DeadKernelError:
        return CellRun(index, "died", "the Python kernel died while running this cell "
                       "(os._exit, a crash in compiled code, or the memory limit)", time.monotonic() - start)
    seconds = time.monotonic() - start
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    if errors:
        e = errors[-1]
        return CellRun(index, "error", f"{e.get('ename', 'Error')}: {e.get('evalue', '')}".strip(), seconds)
    return CellRun(index, "ok", "", seconds)


def _replay(client: _Client, nb, indices: List[int], deadline: float, limits: Limits) -> None:
    for index in indices:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        cell = nbformat.from_dict(dict(nb.cells[index]))
        _run_cell(client, cell, index, min(limits.cell_seconds, left))
