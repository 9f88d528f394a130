"""Runs `python -m core worker` as a child process and reads its JSON lines.

No `bpy` here: the add-on's operators poll a `Worker` from a timer (UI) or block on it
(background mode), and this module is the same in both. A child process keeps Blender
responsive, lets Cancel kill the work outright, and lets the job run in a Python that
has torch when Blender's own does not (see preferences).
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # holds core/ and models/ beside addon/


@dataclass
class PythonSetup:
    """Which Python runs the worker, and what goes on its path before its own packages."""
    executable: str = sys.executable
    extra_paths: list[str] = field(default_factory=list)  # e.g. the per-user dependency folder
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. BRUSHWORK_LEARNED: the project's learned paintings

    def command(self, *args: str) -> list[str]:
        return [self.executable, "-m", "core", *args]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        paths = [str(PACKAGE_ROOT), *self.extra_paths]
        if env.get("PYTHONPATH"):
            paths.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(paths)
        env["PYTHONUNBUFFERED"] = "1"
        env.update(self.extra_env)
        env.pop("PYTHONHOME", None)  # Blender may set it for its own Python; a custom one needs its own
        return env

    def check(self, timeout: float = 120.0) -> dict:
        """`python -m core check` in that Python: versions, devices, trained methods, or "error"."""
        if not Path(self.executable).is_file():
            return {"error": f"{self.executable}: no such Python executable"}
        try:
            done = subprocess.run(self.command("check"), env=self.env(), cwd=PACKAGE_ROOT,
                                  capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as e:
            return {"error": f"{self.executable}: could not run ({e})"}
        for line in reversed(done.stdout.splitlines()):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"{self.executable} cannot run Brushwork's engine: {tail}"}


def spec_problem(spec: dict) -> str | None:
    """What the engine's job contract (core/jobs/schema.py) refuses in `spec`, or None."""
    from ..core.errors import BrushworkError
    from ..core.jobs.schema import check_spec
    try:
        check_spec(spec)
    except BrushworkError as e:
        return str(e)
    return None


class Worker:
    """One job in a child process. `poll()` returns the messages that arrived so far.

    Messages are the worker's JSON objects ("progress", then one "result"); if the child
    dies without a result (killed, crashed, torch missing), a synthetic error result with
    the last lines of its stderr is delivered instead, so callers always get an ending.
    """

    def __init__(self, spec: dict, python: PythonSetup):
        self._messages: queue.Queue = queue.Queue()
        self._stderr: list[str] = []
        self.cancelled = False
        self._proc = None
        problem = spec_problem(spec)
        if problem:   # the engine's own contract, checked here: no process for a spec it would refuse
            self._messages.put({"type": "result", "status": "error", "message": problem})
            return
        self._proc = subprocess.Popen(
            python.command("worker"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, encoding="utf-8", env=python.env(), cwd=PACKAGE_ROOT,
            start_new_session=True)  # Ctrl-C in Blender's terminal is ours to pass on, not the child's
        self._proc.stdin.write(json.dumps(spec))
        self._proc.stdin.close()
        self._err_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._err_thread.start()
        threading.Thread(target=self._read_stdout, daemon=True).start()

    def _read_stderr(self) -> None:
        for line in self._proc.stderr:
            self._stderr = (self._stderr + [line.rstrip()])[-20:]

    def _read_stdout(self) -> None:
        got_result = False
        for line in self._proc.stdout:
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue  # a stray print from a library is not ours to parse
            got_result |= msg.get("type") == "result"
            self._messages.put(msg)
        self._proc.wait()
        self._err_thread.join(timeout=5)
        if not got_result:
            if self.cancelled:
                self._messages.put({"type": "result", "status": "cancelled"})
            else:
                tail = "; ".join(self._stderr[-3:]) or f"exit code {self._proc.returncode}"
                self._messages.put({"type": "result", "status": "error",
                                    "message": f"the Brushwork worker stopped: {tail}"})

    def poll(self) -> list[dict]:
        out = []
        while True:
            try:
                out.append(self._messages.get_nowait())
            except queue.Empty:
                return out

    def wait(self, timeout: float | None = None) -> dict | None:
        """Block for the next message (None after `timeout` seconds)."""
        try:
            return self._messages.get(timeout=timeout)
        except queue.Empty:
            return None

    def result(self) -> dict:
        """Block until the result message (progress messages are dropped)."""
        while True:
            msg = self._messages.get()
            if msg.get("type") == "result":
                return msg

    def cancel(self) -> None:
        """SIGTERM: the worker stops at the next tile and removes its temp files."""
        self.cancelled = True
        if self._proc is not None and self._proc.poll() is None:
            try:
                self._proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass

    def kill_after(self, seconds: float = 10.0) -> None:
        """If the worker has not stopped after a cancel, stop it for good."""
        if self._proc is None:
            return
        try:
            self._proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
