"""A real Blender window for tests: Blender 4.3 (Debian 13) under Xvfb, in a cached chroot.

    python scripts/blender_gui.py build                       # once (root, network): about 2 GB
    python scripts/blender_gui.py run DRIVER.py [--blend F] [--out DIR] [--timeout S] [-- ARGS]
    python scripts/blender_gui.py shot OUT.png [--blend F]    # a screenshot of Blender's window

The `bpy` module the add-on tests import runs only in background mode: no window, no
events, no modal operators, no undo. An artist's Blender is a window, so the GUI tests
(tests/gui/) run the Blender that Debian 13 ships, drawn by Mesa's software OpenGL on
an Xvfb screen, with xdotool to move the mouse and press keys and ImageMagick's
`import` to take screenshots. All of it lives in a Debian chroot built once by
debootstrap and kept in $BRUSHWORK_GUI_CACHE (default /var/cache/brushwork-gui), so the
host stays as it is; `build` reuses a finished chroot.

`run` starts Xvfb and Blender in a private mount and PID namespace (unshare): /proc,
/dev, /sys, /tmp and this repository are bind-mounted into the chroot at their own
paths, and every process started inside, the worker included, dies with the run. The
driver is a Python file Blender runs (`--python`) after loading the .blend; it sees
BRUSHWORK_GUI_OUT (the output folder) and DISPLAY. After Blender exits, the processes
still alive in the namespace are listed in OUT/ps_after.txt (a worker left running by
Blender would be there). Blender's output goes to OUT/blender.log, its exit status to
OUT/blender_rc; HOME, TMPDIR and BLENDER_USER_RESOURCES point into OUT unless the
environment names another profile (BRUSHWORK_GUI_PROFILE).

Needs root (chroot, mounts). Exit status 2 with one line on stderr when the chroot
cannot be built or run.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITE = "trixie"            # Debian 13: Blender 4.3.2, Python 3.13
# Blender and a screen; numpy is Blender's own dependency in every official build but a
# separate package in Debian's, and the worker needs it.
PACKAGES = ("blender", "python3-numpy", "xvfb", "xdotool", "imagemagick", "procps", "libgl1-mesa-dri")
SCREEN = "1600x1000x24"


class GuiError(Exception):
    """The GUI environment cannot be built or run (one line, for a test failure or stderr)."""


def cache() -> Path:
    return Path(os.environ.get("BRUSHWORK_GUI_CACHE", "/var/cache/brushwork-gui"))


def chroot() -> Path:
    return cache() / "root"


def _marker() -> Path:
    return cache() / "ready.json"


def _wanted() -> dict:
    return {"suite": SUITE, "packages": list(PACKAGES)}


def ready() -> str | None:
    """None when the cached chroot is complete, else why not (one line)."""
    if os.geteuid() != 0:
        return "needs root (chroot and bind mounts)"
    if shutil.which("unshare") is None:
        return "the host has no `unshare` (util-linux)"
    try:
        built = json.loads(_marker().read_text())
    except (OSError, ValueError):
        return f"no GUI chroot at {chroot()}: run `python scripts/blender_gui.py build` (root, network)"
    if built.get("suite") != SUITE or not set(PACKAGES) <= set(built.get("packages", [])):
        return f"the GUI chroot at {chroot()} is out of date: run `python scripts/blender_gui.py build`"
    return None


def _namespace(script: str, shares: list[Path], timeout: float | None, log=None) -> int:
    """Run `script` (sh) as PID 1 of a fresh PID and mount namespace, chrooted, with /proc,
    /dev, /sys and `shares` mounted; everything it started dies with it."""
    root = chroot()
    mounts = [f"mount -t proc proc {root}/proc", f"mount --rbind /dev {root}/dev",
              f"mount --rbind /sys {root}/sys"]
    for share in shares:
        mounts += [f"mkdir -p {shlex.quote(str(root) + str(share))}",
                   f"mount --bind {shlex.quote(str(share))} {shlex.quote(str(root) + str(share))}"]
    inner = " && ".join(mounts) + f" && exec chroot {shlex.quote(str(root))} /bin/sh -c {shlex.quote(script)}"
    cmd = ["unshare", "--fork", "--pid", "--mount", "--propagation", "private", "--kill-child",
           "--", "/bin/sh", "-c", inner]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8",
           **{k: v for k, v in os.environ.items() if k.startswith("BRUSHWORK_GUI_")}}
    try:
        return subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT if log else None, env=env,
                              timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        return 124


def build(mirror: str | None = None) -> Path:
    """Make (or complete) the cached chroot; a finished one is reused as it is."""
    if ready() is None:
        return chroot()
    if os.geteuid() != 0:
        raise GuiError("building the GUI chroot needs root")
    root = chroot()
    mirror = mirror or os.environ.get("BRUSHWORK_GUI_MIRROR", "http://deb.debian.org/debian")
    if not (root / "usr" / "bin" / "apt-get").is_file():
        if shutil.which("debootstrap") is None and shutil.which("apt-get"):   # Debian's own package
            subprocess.run(["apt-get", "install", "-y", "-q", "debootstrap"], stdout=subprocess.DEVNULL)
        if shutil.which("debootstrap") is None:
            raise GuiError("debootstrap is not installed (apt-get install -y debootstrap)")
        shutil.rmtree(root, ignore_errors=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["debootstrap", "--variant=minbase", SUITE, str(root), mirror])
        if done.returncode:
            raise GuiError(f"debootstrap {SUITE} failed (exit {done.returncode})")
    shutil.copy("/etc/resolv.conf", root / "etc" / "resolv.conf")
    rc = _namespace("export DEBIAN_FRONTEND=noninteractive && apt-get update -q && "
                    "apt-get install -y -q --no-install-recommends " + " ".join(PACKAGES), [], None)
    if rc:
        raise GuiError(f"apt-get install in the chroot failed (exit {rc})")
    _marker().write_text(json.dumps(_wanted()))
    return root


_LAUNCH = r'''
out={out}
mkdir -p "$out/home" "$out/tmp"
export HOME="$out/home" TMPDIR="$out/tmp" TMP="$out/tmp" BRUSHWORK_GUI_OUT="$out"
export BLENDER_USER_RESOURCES={profile}
exec 3>"$out/displayfd"
Xvfb -displayfd 3 -screen 0 {screen} -nolisten tcp >"$out/xvfb.log" 2>&1 &
for i in $(seq 100); do [ -s "$out/displayfd" ] && break; sleep 0.1; done
exec 3>&-
[ -s "$out/displayfd" ] || {{ echo "Xvfb did not start" >&2; exit 3; }}
export DISPLAY=:$(cat "$out/displayfd")
blender {mode}{blend} --python-exit-code 1 --python {driver} -- {args} >"$out/blender.log" 2>&1
echo $? >"$out/blender_rc"
sleep 1
ps -eo pid,ppid,args >"$out/ps_after.txt"
'''


def run(driver: Path, out: Path, blend: Path | None = None, args: list[str] = (), timeout: float = 300,
        profile: Path | None = None, screen: str = SCREEN, background: bool = False) -> subprocess.CompletedProcess:
    """Blender on a fresh Xvfb screen (or `background`: `blender -b`, no window), `blend`
    loaded, `driver` run; returns the finished run:
    `.returncode` is Blender's (124 on timeout, 3 if no screen), `.stdout` its output."""
    problem = ready()
    if problem:
        raise GuiError(problem)
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    for name in ("blender_rc", "blender.log", "ps_after.txt", "displayfd"):
        (out / name).unlink(missing_ok=True)
    profile = Path(profile or os.environ.get("BRUSHWORK_GUI_PROFILE") or out / "blender_user").resolve()
    files = [Path(driver).resolve(), out, profile] + ([Path(blend).resolve()] if blend else [])
    shares = _shares(files)
    script = _LAUNCH.format(mode="-b " if background else "", out=shlex.quote(str(out)), profile=shlex.quote(str(profile)), screen=screen,
                            blend=shlex.quote(str(Path(blend).resolve())) if blend else "",
                            driver=shlex.quote(str(Path(driver).resolve())),
                            args=" ".join(shlex.quote(a) for a in args))
    with open(out / "harness.log", "w") as log:
        rc = _namespace(script, shares, timeout, log)
    text = (out / "blender.log").read_text(errors="replace") if (out / "blender.log").is_file() else ""
    if rc == 0 and (out / "blender_rc").is_file():
        rc = int((out / "blender_rc").read_text().strip() or 1)
    return subprocess.CompletedProcess(["blender", str(driver)], rc, text, (out / "harness.log").read_text())


def _shares(files: list[Path]) -> list[Path]:
    """What to mount: /tmp and this repository, plus the folder of any file outside both."""
    shares = [Path(tempfile.gettempdir()).resolve(), Path("/tmp"), ROOT]
    for f in files:
        if not any(f == s or s in f.parents for s in shares):
            shares.append(f if f.is_dir() else f.parent)
    unique = []
    for s in shares:
        if s not in unique and not any(u in s.parents for u in unique):
            unique.append(s)
    return unique


_SHOT = '''
import os, subprocess, bpy
def _shot():
    subprocess.run(["import", "-window", "root", os.environ["BRUSHWORK_GUI_SHOT"]], check=True)
    bpy.ops.wm.quit_blender()
bpy.app.timers.register(_shot, first_interval=float(os.environ.get("BRUSHWORK_GUI_DELAY", "3")))
'''


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build or reuse the cached chroot")
    p_build.add_argument("--mirror", help="Debian mirror (default deb.debian.org)")
    p_run = sub.add_parser("run", help="run a driver script in Blender's window")
    p_run.add_argument("driver", type=Path)
    p_run.add_argument("args", nargs="*")
    p_shot = sub.add_parser("shot", help="open Blender and take one screenshot")
    p_shot.add_argument("png", type=Path)
    for p in (p_run, p_shot):
        p.add_argument("--blend", type=Path)
        p.add_argument("--out", type=Path)
        p.add_argument("--timeout", type=float, default=300)
    opts = parser.parse_args(argv)
    try:
        if opts.command == "build":
            print(build(opts.mirror))
            return 0
        out = opts.out or Path(tempfile.mkdtemp(prefix="brushwork-gui-"))
        if opts.command == "shot":
            driver = out / "shot.py"
            out.mkdir(parents=True, exist_ok=True)
            driver.write_text(_SHOT)
            os.environ["BRUSHWORK_GUI_SHOT"] = str(opts.png.resolve())
            opts.args = []
        else:
            driver = opts.driver
        done = run(driver, out, opts.blend, opts.args, opts.timeout)
    except GuiError as e:
        print(f"blender_gui: {e}", file=sys.stderr)
        return 2
    sys.stdout.write(done.stdout)
    print(f"blender_gui: Blender exited {done.returncode}; output in {out}", file=sys.stderr)
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
