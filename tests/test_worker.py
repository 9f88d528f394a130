"""`python -m core worker`: the add-on's protocol.

One JSON job on stdin; JSON lines on stdout: progress (fraction non-decreasing in
[0, 1], a stage name), then exactly one result: ok (exit 0), error with a message
(exit 2, no traceback), cancelled (SIGTERM: exit 130, no output, no temp files).
Spec errors run in-process (`worker.main(stdin, stdout)`); the protocol and Cancel run
in real processes.
"""
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from core.jobs import image as jobs
from core.jobs.spec import from_spec
from core.nets import weights
from core.app import worker
from support import check_protocol
from core.engine.stylizer import default_method
from core.engine.methods import METHODS
from core.errors import Cancelled
from imaging import photo, save

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"


@pytest.fixture
def spec(tmp_path, style, out_dir):
    """A valid small job."""
    return {"content": save(tmp_path / "content.png", photo(48, 64)), "styles": [style],
            "output": str(out_dir / "result.png"), "allow_untrained": True}


def work(capfd, spec) -> tuple[int, list[dict], str]:
    """worker.main in-process → (exit code, parsed stdout lines, stderr)."""
    stdin = io.StringIO(spec if isinstance(spec, str) else json.dumps(spec))
    stdout = io.StringIO()
    rc = worker.main(stdin, stdout)
    lines = [json.loads(line) for line in stdout.getvalue().splitlines()]
    return rc, lines, capfd.readouterr().err


def temp_left(tmpdir) -> list[str]:
    """What a job left in its temp folder, less onnxruntime's own session marker (`.ses`,
    written when the library is imported and kept on purpose across runs)."""
    return [n for n in os.listdir(tmpdir) if n != ".ses"]


def start(spec: dict, tmpdir: Path) -> subprocess.Popen:
    """A worker process reading `spec` from a file (as from a pipe the add-on has closed)."""
    job = tmpdir.parent / "job.json"
    job.write_text(json.dumps(spec))
    env = dict(os.environ, TMPDIR=str(tmpdir), PYTHONUNBUFFERED="1")
    with open(job) as stdin:
        return subprocess.Popen([sys.executable, "-m", "core", "worker"], cwd=ROOT, env=env, text=True,
                                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# --------------------------------------------------------------------------- a good job


def test_good_job(spec, tmp_path, out_dir):
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    p = start(spec, tmpdir)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert "Traceback" not in err
    result = check_protocol([json.loads(line) for line in out.splitlines()])
    progress = [json.loads(line) for line in out.splitlines()][:-1]
    assert any(m["fraction"] > 0 for m in progress)
    assert {"encode", "decode"} <= {m["stage"] for m in progress}
    assert progress[-1]["fraction"] == 1.0
    assert result["status"] == "ok", result
    assert result["output"] == spec["output"] and Path(result["output"]).is_file()
    assert (result["width"], result["height"]) == (64, 48)
    method = METHODS[default_method()]  # random weights are reported, not hidden
    assert result["untrained"] == [k for k in method.models if not weights.is_trained(k)]
    assert os.listdir(out_dir) == ["result.png"]
    assert temp_left(tmpdir) == []


def test_good_job_in_process_with_a_single_style_string(capfd, spec, out_dir):
    spec = dict(spec, styles=spec["styles"][0], method="linear-r31", wrap="both", strength=0.5,
                preserve_color=True, tile=128, style_weights=[1])
    rc, lines, err = work(capfd, spec)
    result = check_protocol(lines)
    assert rc == 0 and result["status"] == "ok", (result, err)
    assert result["wrap"] == "both"
    assert os.listdir(out_dir) == ["result.png"]


def test_wrap_auto_reports_what_it_chose(capfd, spec, tmp_path, out_dir):
    """A tileable texture comes back "both", the photo "none": the add-on's default."""
    for name, wrap in (("wood_basecolor.png", "both"), ("photo.jpg", "none")):
        out = out_dir / f"{name}.png"
        rc, lines, err = work(capfd, dict(spec, content=str(DATA / name), output=str(out), wrap="auto"))
        result = check_protocol(lines)
        assert rc == 0 and result["wrap"] == wrap, (result, err)


# --------------------------------------------------------------------------- bad specs


BAD_SPECS = {
    "invalid JSON": ('{"content": "a.png", styles: []}', "JSON"),
    "empty stdin": ("", "JSON"),
    "not an object": ('["a.png", "b.png"]', "object"),
    "unknown field": ({"colour_boost": 2}, "colour_boost"),
    "settings is not a field": ({"settings": {"tile": 0}}, "settings"),
    "missing content": ({"content": None}, "content"),
    "missing styles": ({"styles": None}, "styles"),
    "missing output": ({"output": None}, "output"),
    "content not a string": ({"content": 5}, "content"),
    "styles of numbers": ({"styles": [1, 2]}, "styles"),
    "tile as text": ({"tile": "256"}, "tile"),
    "tile as float": ({"tile": 256.5}, "tile"),
    "strength as text": ({"strength": "high"}, "strength"),
    "strength as bool": ({"strength": True}, "strength"),
    "overwrite as text": ({"overwrite": "false"}, "overwrite"),
    "style_weights as text": ({"style_weights": "0.3,0.7"}, "style_weights"),
    "wrap as list": ({"wrap": ["x"]}, "wrap"),
    "bad wrap": ({"wrap": "diagonal"}, "wrap"),
    "bad method": ({"method": "pix2pix"}, "method"),
    "bad device": ({"device": "tpu"}, "device"),
    "bad strength": ({"strength": 2}, "strength"),
    "bad tile": ({"tile": 16}, "tile"),
    "weights count": ({"style_weights": [0.3, 0.7]}, "style weights [0.3, 0.7]"),
}


@pytest.mark.parametrize("case", list(BAD_SPECS))
def test_bad_spec(capfd, spec, out_dir, case):
    change, word = BAD_SPECS[case]
    if isinstance(change, dict):
        change = {k: v for k, v in {**spec, **change}.items() if v is not None}
    rc, lines, err = work(capfd, change)
    result = check_protocol(lines)
    assert result["status"] == "error", result
    assert word in result["message"], result["message"]
    assert "\n" not in result["message"]
    assert rc == 2
    assert "Traceback" not in err
    assert os.listdir(out_dir) == []


def test_bad_input_files(capfd, spec, tmp_path, out_dir):
    rc, lines, err = work(capfd, dict(spec, content=str(tmp_path / "gone.png")))
    result = check_protocol(lines)
    assert (rc, result["status"]) == (2, "error") and "gone.png" in result["message"]
    existing = out_dir / "result.png"
    existing.write_bytes(b"keep me")
    rc, lines, err = work(capfd, spec)
    result = check_protocol(lines)
    assert (rc, result["status"]) == (2, "error") and "result.png" in result["message"]
    assert existing.read_bytes() == b"keep me"
    assert os.listdir(out_dir) == ["result.png"]
    assert "Traceback" not in err


def test_bad_spec_in_a_real_process(tmp_path):
    p = subprocess.run([sys.executable, "-m", "core", "worker"], cwd=ROOT, input="{not json",
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    result = check_protocol([json.loads(line) for line in p.stdout.splitlines()])
    assert result["status"] == "error" and "JSON" in result["message"]


def test_a_bug_still_ends_in_one_result_line(capfd, spec, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(jobs, "run", broken)
    rc, lines, err = work(capfd, spec)
    result = check_protocol(lines)
    assert result["status"] == "error" and "internal error" in result["message"] and "boom" in result["message"]
    assert rc == 1  # not 2: nothing the user can fix
    assert "Traceback" in err  # a bug keeps its traceback, on stderr


def test_in_process_worker_restores_signal_handlers(capfd, spec):
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    work(capfd, {"bogus": 1})
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


# --------------------------------------------------------------------------- cancel


def test_cancel_after_the_networks_ran_writes_nothing(spec, out_dir):
    """A Cancel that lands after the last tile still wins over writing the file."""
    seen = []

    def decoded():
        return bool(seen) and seen[-1][1] == "decode" and seen[-1][0] > 0.999

    with pytest.raises(Cancelled):
        jobs.run(from_spec(jobs.Job, spec), lambda f, s: seen.append((f, s)), cancel=decoded)
    assert decoded()  # the networks had finished
    assert os.listdir(out_dir) == []


@pytest.fixture
def big_spec(tmp_path, style, out_dir):
    """A job of many tiles (several seconds on a CPU, pinned there), so a Cancel lands mid-way."""
    return {"content": save(tmp_path / "big.png", photo(1024, 1024)), "styles": [style],
            "output": str(out_dir / "big_out.png"), "allow_untrained": True, "tile": 128, "device": "cpu"}


@pytest.mark.parametrize("when", ["encoding", "loading"])
def test_sigterm_cancels_cleanly(big_spec, tmp_path, out_dir, when):
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    p = start(big_spec, tmpdir)
    lines = []
    try:
        for line in p.stdout:
            msg = json.loads(line)
            lines.append(msg)
            assert msg["type"] == "progress", msg
            if when == "loading" or (msg["stage"] == "encode" and msg["fraction"] > 0):
                break
        p.send_signal(signal.SIGTERM)
        rest, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    lines += [json.loads(line) for line in rest.splitlines()]
    result = check_protocol(lines)
    assert result == {"type": "result", "status": "cancelled"}, err
    assert p.returncode == 130
    assert "Traceback" not in err
    assert os.listdir(out_dir) == []
    assert temp_left(tmpdir) == []
