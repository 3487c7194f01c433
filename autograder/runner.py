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

Each kernel starts clean (``sandbox.fresh_home``): nothing a cell planted in its home or IPython
profile runs in the next kernel, and a kernel that still cannot start again turns the rest of the
notebook into ``not_run`` results, with why. The kernel's messages are the student's to forge: one
of a shape nbclient does not expect is dropped with a note, every text kept is scrubbed of what
UTF-8 cannot encode (``reading.scrub``), and an error counts against the output cap like any other
output, cut to a few KB but never dropped (scoring needs it).
"""
from __future__ import annotations

import contextlib
import os
import queue
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import nbformat
import zmq
import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionComplete, CellTimeoutError, DeadKernelError
from traitlets import Type

from seqlab.checks import blamed_part

from .course import GradingError
from .reading import safe_markdown, scrub, scrub_text
from .jobfolder import empty_job, folder_usage, fresh_home, remove_tree
from .preprocessors import hidden_part, is_grade_cell
from .processes import drain, kernel_of, reap
from .results import timed
from .sandbox import Limits, Sandbox, kernel_env, plan, wrap


# The file in the working folder where the kernel emits the hidden cases' outputs (scoring reads it).
EMIT_NAME = ".seqlab-emitted.jsonl"


@dataclass
class CellRun:
    """What happened when one code cell ran."""

    index: int
    status: str                   # ok, error, timeout, died, not_run
    error: str = ""               # "ename: evalue" for an error; a sentence otherwise
    seconds: float = 0.0
    ended_kernel: bool = False    # the cell called exit(): its kernel stops right after it
    # A grade cell whose visible test put the blame on an earlier part: how its hidden tests then ran
    # (scoring grades the part on them when that earlier part lost its own points)
    after_blame: Optional["CellRun"] = None


class KernelStartError(GradingError):
    """The sandboxed kernel did not start for the first cell: the grader's problem, not the student's."""


@dataclass
class Execution:
    notebook: nbformat.NotebookNode
    cells: Dict[int, CellRun] = field(default_factory=dict)
    restarts: int = 0
    # Seconds of the runner's own steps, all kernels together: "kernel start", "kernel stop",
    # "replay" (after a restart), "after each cell" (reaping strays, the disk check), "empty job folder".
    phases: Dict[str, float] = field(default_factory=dict)
    unforked: str = ""            # why the zygote could not fork this notebook's kernel (new Pythons then ran it)


class _QuickClient(AsyncKernelClient):
    """A kernel client that knows sooner that its kernel is ready. Its sockets try again every 10 ms
    while the kernel has not bound its own (zmq's default: 100 ms); it asks again after 20 ms when an
    answer came but nothing on IOPub yet (jupyter_client waits 200 ms), and waits 20 ms for IOPub to fall
    silent after that (jupyter_client: 200 ms, at every start). A late IOPub message of the start is
    harmless: nbclient only reads messages whose parent is the cell it runs."""

    def _context_default(self) -> zmq.asyncio.Context:
        context = super()._context_default()
        context.setsockopt(zmq.RECONNECT_IVL, 10)
        return context

    async def _async_wait_for_ready(self, timeout: Optional[float] = None) -> None:
        """Ask kernel_info until the shell answers and IOPub carries a message (then both are connected)."""
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            self.kernel_info()
            with contextlib.suppress(queue.Empty):
                reply = await self.shell_channel.get_msg(timeout=0.5)
                if reply["msg_type"] == "kernel_info_reply":
                    with contextlib.suppress(queue.Empty):
                        await self.iopub_channel.get_msg(timeout=0.02)
                        self._handle_kernel_info_reply(reply)
                        break
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout:.0f} seconds")
        while True:
            try:
                await self.iopub_channel.get_msg(timeout=0.02)
            except queue.Empty:
                return

    wait_for_ready = _async_wait_for_ready     # what nbclient calls (jupyter_client binds its own at class level)


class SandboxKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel command runs inside the job's sandbox."""

    sandbox: dict = {}
    client_factory = Type(_QuickClient)

    async def _async_wait(self, pollinterval: float = 0.1) -> None:
        """Wait for a killed kernel to end, looking every 5 ms rather than every 100 (each stop paid one)."""
        await super()._async_wait(pollinterval=min(pollinterval, 0.005))

    def format_kernel_cmd(self, extra_arguments: Optional[List[str]] = None) -> List[str]:
        command = super().format_kernel_cmd(extra_arguments)
        s = self.sandbox
        if s["uid"] is not None:   # written by the grader just before this; the kernel must read it
            os.chown(self.connection_file, s["uid"], s["uid"])
        if s["zygote"] is not None and command[1:3] == ["-m", "ipykernel_launcher"]:
            return s["zygote"].command(command, plan(s["job"], s["limits"]), s["env"], asdict(s["limits"]),
                                       s["uid"], s["group"] and str(s["group"].procs))
        return wrap(command, s["job"], s["env"], s["limits"], s["uid"], s["use_bwrap"], s["group"])


# What one output costs beyond its text (its JSON and the grader's objects), so that 10,000 tiny
# displays are capped like one big print.
OUTPUT_OVERHEAD = 100
# Most characters kept of an exception's name, of its message and of each traceback line, and of
# a whole traceback: enough for the verdict ("ename: evalue", 2,000 characters) and the cell line.
ENAME_CHARS, ERROR_CHARS, TRACEBACK_CHARS = 256, 4096, 16384
# The kernel messages that become outputs (and count against the cap).
OUTPUTS = ("stream", "display_data", "execute_result", "update_display_data", "error")


class _Client(NotebookClient):
    """nbclient with a cap on how much output one cell may keep, that survives any message."""

    output_cap = 256 * 1024

    def process_message(self, msg, cell, cell_index):
        try:
            problem = _malformed(msg)
            if problem:
                return self._note(cell.outputs, cell_index, problem)
            kind = msg["msg_type"]
            if kind in OUTPUTS:
                if kind == "error":
                    msg["content"] = _cut_error(msg["content"])
                used = self._used.get(cell_index, 0)
                self._used[cell_index] = used + _size(msg["content"])
                if self._used[cell_index] > self.output_cap:
                    if used <= self.output_cap:
                        cell.outputs.append(nbformat.v4.new_output(
                            "stream", name="stdout",
                            text=f"\n[output cut: this cell printed more than {self.output_cap // 1024} KB]\n"))
                    if kind != "error":   # an error is kept past the cap: the verdict reads it
                        return None
            _clean(msg["content"])
            return super().process_message(msg, cell, cell_index)
        except CellExecutionComplete:
            raise
        except Exception as err:  # nbclient or nbformat choking on a message of the student's making
            kind = msg.get("msg_type") if isinstance(msg, dict) else None
            return self._note(cell.outputs, cell_index, f"a {scrub_text(str(kind))!r} message it could not read "
                                                        f"({type(err).__name__})")

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None and msg["msg_type"] == "error" and self._used.get(cell_index, 0) > self.output_cap:
            late = self._late_error.get(cell_index)   # past the cap, only the last error is kept
            outs[:] = [o for o in outs if o is not late]
            self._late_error[cell_index] = out
        return out

    def _note(self, outs, cell_index: int, problem: str) -> None:
        """Say once per cell that a kernel message was dropped (nbclient would have raised)."""
        if cell_index not in self._noted:
            self._noted.add(cell_index)
            outs.append(nbformat.v4.new_output("stream", name="stderr", text=scrub_text(
                f"[the grader ignored {problem[:200]} from the kernel; later ones in this cell are ignored silently]\n")))
        return None

    async def _check_raise_for_error(self, cell, cell_index, exec_reply):
        """Keep the reply's verdict: an error whose output the kernel could not send still counts."""
        content = exec_reply.get("content") if isinstance(exec_reply, dict) else None
        self._replies[cell_index] = content if isinstance(content, dict) else {}


def _malformed(msg) -> str:
    """What is wrong with a kernel message's shape for nbclient, or "" when nothing is."""
    kind = msg.get("msg_type") if isinstance(msg, dict) else None
    if not isinstance(kind, str) or not all(isinstance(msg.get(k), dict) for k in ("content", "header", "parent_header")):
        return "a message without a type, header or content"
    c = msg["content"]
    if "execution_count" in c and not (c["execution_count"] is None or type(c["execution_count"]) is int):
        del c["execution_count"]
    if c.get("transient") is not None and not isinstance(c["transient"], dict):
        return f"a {kind!r} message whose transient is not a dict"
    if kind == "stream" and not (c.get("name") in ("stdout", "stderr") and isinstance(c.get("text"), str)):
        return "a 'stream' message without a stream name and text"
    if kind in ("display_data", "execute_result", "update_display_data"):
        if not isinstance(c.get("data"), dict) or not all(isinstance(k, str) for k in c["data"]):
            return f"a {kind!r} message whose data is a {type(c.get('data')).__name__}, not a dict"
        if not isinstance(c.setdefault("metadata", {}), dict):
            return f"a {kind!r} message whose metadata is not a dict"
    if kind == "error" and not (isinstance(c.get("ename"), str) and isinstance(c.get("evalue"), str)
                                and isinstance(c.get("traceback"), list)):
        return "an 'error' message without a name, value and traceback"
    if kind.startswith("comm") and not (isinstance(c.get("comm_id"), str) and isinstance(c.get("data", {}), dict)):
        return f"a {kind!r} message without a comm id or data"
    return ""


def _clip(text, most: int) -> str:
    text = text if isinstance(text, str) else str(text)
    return text if len(text) <= most else f"{text[:most]} …[cut: {len(text) - most:,} more characters]"


def _cut_error(content: dict) -> dict:
    """An error message's content with its name, value and traceback cut to a few KB."""
    lines, kept = [_clip(line, ERROR_CHARS) for line in content["traceback"]], []
    budget = TRACEBACK_CHARS - (len(lines[-1]) if lines else 0)
    for line in lines[:-1]:
        if len(line) > budget:
            kept.append(f"[cut: {len(lines) - 1 - len(kept)} more traceback lines]")
            break
        kept.append(line)
        budget -= len(line)
    return {**content, "ename": _clip(content["ename"], ENAME_CHARS), "evalue": _clip(content["evalue"], ERROR_CHARS),
            "traceback": kept + lines[-1:]}


def _size(content: dict) -> int:
    """What an output costs against the cap: its text, data and traceback, plus the overhead."""
    data = content.get("data") if isinstance(content.get("data"), dict) else {}
    return OUTPUT_OVERHEAD + len(str(content.get("text", ""))) + sum(len(str(v)) for v in data.values()) \
        + len(str(content.get("ename", ""))) + len(str(content.get("evalue", ""))) \
        + sum(len(str(v)) for v in content.get("traceback") or [])


def _clean(content: dict) -> None:
    """Scrub a message's text of lone surrogates, and make an output's markdown renderable (no dangling
    ``attachment:`` reference, which would stop nbconvert's feedback run)."""
    scrub(content)
    data = content.get("data")
    if isinstance(data, dict) and "text/markdown" in data:
        text = data["text/markdown"]
        data["text/markdown"] = safe_markdown("".join(map(str, text)) if isinstance(text, list) else str(text), {})


# How many times the first kernel is started before the submission is left to the TA (no cell ran yet,
# so nothing the student wrote can be to blame).
FIRST_START_TRIES = 3


def run_notebook(nb: nbformat.NotebookNode, box: Sandbox, limits: Limits) -> Execution:
    """Execute ``nb`` (modified in place) in ``box``; returns what each cell did."""
    job, uid = box.job, box.uid
    emit_file = job / "work" / EMIT_NAME
    sandbox = {"job": job, "env": kernel_env(job, emit_file), "limits": limits, "uid": uid,
               "use_bwrap": box.use_bwrap, "group": box.group, "zygote": box.zygote}
    manager = type("JobKernelManager", (SandboxKernelManager,), {"sandbox": sandbox})
    run = Execution(nb)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    deadline = time.monotonic() + limits.notebook_seconds
    bad: set = set()
    position, failed_start, first_tries = 0, "", FIRST_START_TRIES
    try:
        while position < len(code):
            try:
                with timed(run.phases, "kernel start"):
                    client = _start(nb, box, manager, limits)
            except Exception as err:  # a kernel that will not start: no cell is to blame yet
                if sandbox["zygote"] is not None:
                    # A forked start reads nothing the student wrote: the grader's problem. The notebook goes
                    # on in new Pythons, as with --kernels fresh, and its isolation line says so.
                    run.unforked, sandbox["zygote"] = str(err)[:500], None
                    continue
                first_tries -= 1
                if not position and first_tries > 0 and time.monotonic() < deadline:
                    continue          # a busy machine can lose a start: try again before giving up
                if not position:
                    raise KernelStartError(f"the sandboxed kernel did not start ({err}); rerun autograde (a busy "
                                           "machine can delay a start), and if it fails again check that "
                                           "`python -m ipykernel` runs in the grader's environment") from None
                failed_start = str(err)
                if run.restarts >= limits.restarts or time.monotonic() >= deadline:
                    break
                run.restarts += 1
                continue
            failed_start = ""
            position = _run_cells(run, client, nb, code, position, bad, deadline, limits, box)
            if time.monotonic() >= deadline:
                break
            last = run.cells.get(code[position - 1], CellRun(0, "ok"))
            if position < len(code) and (last.status in ("timeout", "died") or last.ended_kernel):
                if run.restarts >= limits.restarts:
                    break
                run.restarts += 1
    finally:
        with timed(run.phases, "empty job folder"):
            empty_job(job, keep=emit_file)    # what the student wrote, deep folder chains included
    why = ("the notebook's time limit" if time.monotonic() >= deadline
           else f"the kernel was restarted {run.restarts} times, the most allowed")
    if failed_start:
        why = (f"the kernel could not be started again after cell {code[position - 1] + 1} stopped it "
               f"({failed_start[:1500]}); a file an earlier cell wrote may stop Python from starting, ask your TA")
    for index in code[position:]:
        run.cells.setdefault(index, CellRun(index, "not_run", f"not run: {why}" + ("" if failed_start else " was reached")))
    return run


def _run_cells(run: Execution, client: "_Client", nb, code: List[int], position: int, bad: set, deadline: float,
               limits: Limits, box: Sandbox) -> int:
    """Run code cells from ``position`` in a just-started kernel until one times out or kills it, fills
    the job folder past its budget, the deadline passes or none is left; returns the next position."""
    kernel = kernel_of(box.processes())       # the kernel and its launchers; nothing it forked
    try:
        if position:                          # a restart: rebuild the state, outputs discarded
            with timed(run.phases, "replay"):
                _replay(client, nb, [i for i in code[:position] if i not in bad], deadline, limits)
        while position < len(code):
            index = code[position]
            left = deadline - time.monotonic()
            if left <= 0:
                break
            run.cells[index] = _run_cell(client, nb.cells[index], index, min(limits.cell_seconds, left))
            with timed(run.phases, "after each cell"):
                reap(box.uid, keep=kernel, group=box.group, wait=5.0)
                if not box.sized and run.cells[index].status not in ("timeout", "died"):
                    run.cells[index] = _over_budget(box.job, limits, index) or run.cells[index]
            position += 1
            if run.cells[index].status in ("timeout", "died") or run.cells[index].ended_kernel:
                bad.add(index)                # not replayed: it would stop the next kernel again
                break
    finally:
        with timed(run.phases, "kernel stop"):
            _stop(client)
            drain(box.uid, group=box.group)   # before the next kernel, or the next submission, of this uid
    return position


def _over_budget(job: Path, limits: Limits, index: int) -> Optional[CellRun]:
    """Where the job folder is no RAM disk: after a cell that left more than the disk budget in it, a
    "died" result (the kernel is then restarted without this cell) and the student's files removed."""
    used, files = folder_usage(job, limits.files)
    if used <= limits.disk_mb * 1024 * 1024 and files <= limits.files:
        return None
    with os.scandir(job / "work") as entries:
        for entry in entries:
            if entry.name != EMIT_NAME:
                remove_tree(entry.path)
    return CellRun(index, "died", f"this cell filled the notebook's folder past its budget ({limits.disk_mb} MB, "
                   f"{limits.files:,} files; {used / 2**20:,.0f} MB in {files:,}{'+' if files > limits.files else ''} "
                   "files); they were removed and the kernel restarted without this cell")


def _start(nb, box: Sandbox, manager, limits: Limits) -> _Client:
    """A client of a kernel just started in the sandbox, in a fresh home (stopped again if it fails)."""
    job = box.job
    fresh_home(job, box.uid)                      # nothing the last kernel planted there may run in this one
    client = _Client(nb, timeout=limits.cell_seconds, kernel_manager_class=manager, allow_errors=True,
                     record_timing=False, startup_timeout=120, shutdown_kernel="immediate",
                     kernel_name="python3", resources={"metadata": {"path": str(job / "work")}},
                     extra_arguments=["--IPKernelApp.log_level=ERROR", "--HistoryManager.enabled=False"])
    client._used, client._noted, client._late_error, client._replies = {}, set(), {}, {}
    client.output_cap = limits.output_kb * 1024
    client.km = client.create_kernel_manager()
    client.km.transport = "ipc"
    client.km.ip = str(job / "conn" / "k")
    client.km.connection_file = str(job / "conn" / "kernel.json")
    try:
        # The kernel's own stdout/stderr, kept out of the grader's; never through a planted link.
        log = os.fdopen(os.open(job / "kernel.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644), "ab")
        try:
            # Only kernel_env, with or without bubblewrap (which also clears it): the kernel must not
            # inherit the grader's environment, and needs emit mode for its hidden cases.
            client.start_new_kernel(cwd=str(job / "work"), env=dict(manager.sandbox["env"]), stdout=log, stderr=log)
        finally:
            log.close()
        client.start_new_kernel_client()
    except Exception as err:
        _stop(client)
        drain(box.uid, group=box.group)
        raise RuntimeError(f"{type(err).__name__}: {err}; the kernel's last words: {_last_words(job)}") from None
    return client


def _last_words(job: Path) -> str:
    """The end of the kernel's log (its stderr), on one line, or "none"."""
    try:
        with open(job / "kernel.log", "rb", opener=lambda p, f: os.open(p, f | os.O_NOFOLLOW)) as log:
            log.seek(max(0, os.fstat(log.fileno()).st_size - 4096))
            tail = log.read().decode("utf-8", "replace").strip().splitlines()[-5:]
    except OSError:
        tail = []
    return scrub_text(" | ".join(line.strip() for line in tail if line.strip())[-1000:]) or "none"


def _stop(client: _Client) -> None:
    try:
        client._cleanup_kernel()
    except Exception:  # a kernel that is already gone is what we wanted
        pass


def _run_cell(client: _Client, cell, index: int, timeout: float) -> CellRun:
    """Run one cell. A grade cell whose visible test failed with a blame of an earlier part
    (``seqlab.checks.blamed_part``) goes on with its hidden tests, which run the part with the tests'
    own earlier parts: their run is kept in ``after_blame`` (outputs added to the cell's)."""
    run = _execute(client, cell, index, timeout)
    name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
    rest = hidden_part(str(cell.get("source", ""))) if is_grade_cell(cell) else ""
    if run.status != "error" or run.ended_kernel or not rest or blamed_part(run.error, name) is None:
        return run
    part = nbformat.v4.new_code_cell(rest)
    after = _execute(client, part, index, max(1.0, timeout - run.seconds))
    client.nb.cells[index] = cell          # nbclient put the part in the cell's place
    cell.outputs.extend(part.outputs)
    seconds = run.seconds + after.seconds
    if after.status in ("timeout", "died"):
        return CellRun(index, after.status, after.error, seconds)
    return CellRun(index, run.status, run.error, seconds, ended_kernel=after.ended_kernel, after_blame=after)


def _execute(client: _Client, cell, index: int, timeout: float) -> CellRun:
    client.timeout = max(1, int(timeout))
    cell.outputs = []
    start = time.monotonic()
    try:
        client.execute_cell(cell, index)
    except CellTimeoutError:
        return CellRun(index, "timeout", f"stopped after {int(timeout)} s (the per-cell time limit)",
                       time.monotonic() - start)
    except DeadKernelError:
        seconds = time.monotonic() - start
        if seconds >= 0.95 * timeout:   # stopped at its limit: a kernel deaf to the interrupt is killed
            return CellRun(index, "timeout", f"stopped after {int(timeout)} s (the per-cell time limit)", seconds)
        return CellRun(index, "died", "the Python kernel died while running this cell "
                       "(os._exit, a crash in compiled code, or the memory limit)", seconds)
    except Exception as err:  # a message nbclient could not follow: this kernel can no longer be trusted
        return CellRun(index, "died", f"the kernel sent messages the grader could not read ({type(err).__name__}); "
                       "it was restarted", time.monotonic() - start)
    seconds = time.monotonic() - start
    errors = [o for o in cell.outputs if o.get("output_type") == "error"]
    reply = client._replies.pop(index, {})
    if _asked_exit(reply):   # exit() stops the kernel 0.1 s later: never let the next cell race it
        return CellRun(index, "error" if errors else "ok", _error_text(errors) if errors else "", seconds,
                       ended_kernel=True)
    if errors:
        return CellRun(index, "error", _error_text(errors), seconds)
    if reply.get("status") == "error":        # the kernel could not send the error itself (say, half an emoji)
        error = f"{_clip(reply.get('ename', 'Error'), ENAME_CHARS)}: {_clip(reply.get('evalue', ''), ERROR_CHARS)}"
        return CellRun(index, "error", scrub_text(error).strip(), seconds)
    return CellRun(index, "ok", "", seconds)


def _error_text(errors: list) -> str:
    e = errors[-1]
    return f"{e.get('ename', 'Error')}: {e.get('evalue', '')}".strip()


def _asked_exit(reply: dict) -> bool:
    """Whether the cell's reply says it called exit() or quit() (IPython's ask_exit payload)."""
    payload = reply.get("payload") if isinstance(reply, dict) else None
    return isinstance(payload, list) and any(isinstance(p, dict) and p.get("source") == "ask_exit"
                                             and not p.get("keepkernel") for p in payload)


def _replay(client: _Client, nb, indices: List[int], deadline: float, limits: Limits) -> None:
    for index in indices:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        cell = nbformat.from_dict(dict(nb.cells[index]))
        _run_cell(client, cell, index, min(limits.cell_seconds, left))
