"""Inside Blender's window: step through a scenario as an artist would, with real input.

Imported by tests/gui/scenarios.py in the Blender that scripts/blender_gui.py starts.
A scenario is a generator: it yields how many seconds to wait (Blender keeps drawing
and handling events meanwhile: the job's timer, redraws), so one `bpy.app.timers`
callback can walk it. Input goes through the X server with xdotool, as a mouse and
keyboard would send it; screenshots come from the X screen (ImageMagick's `import`).

Blender's Python cannot say where a button is drawn, so `find` asks Blender itself:
it right-clicks down a column of the region, and the button context menu (which an
add-on may extend) names the operator or property under the pointer. Buttons are then
clicked where Blender said they are, and a layout change shows up as a failure to find.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path

import bpy

OUT = Path(os.environ["BRUSHWORK_GUI_OUT"])
ADDON = "bl_ext.user_default.brushwork"
result: dict = {"log": [], "shots": {}}


_T0 = time.monotonic()


def log(message: str) -> None:
    message = f"{time.monotonic() - _T0:6.1f}s {message}"
    print(f"gui: {message}", flush=True)
    result["log"].append(message)


def xdo(*args) -> None:
    subprocess.run(["xdotool", *map(str, args)], check=True, timeout=20)


def shot(name: str) -> str:
    """A screenshot of the whole X screen, OUT/<name>.png."""
    path = OUT / f"{name}.png"
    subprocess.run(["import", "-window", "root", str(path)], check=True, timeout=60)
    result["shots"][name] = str(path)
    return str(path)


def window():
    return bpy.context.window_manager.windows[0]


def area(kind: str):
    return next(a for a in window().screen.areas if a.type == kind)


def region(a, kind: str = "WINDOW"):
    return next(r for r in a.regions if r.type == kind)


def to_screen(reg, x: float, y: float) -> tuple[int, int]:
    """Region pixel (origin bottom left) → X screen pixel (origin top left)."""
    return int(reg.x + x), int(window().height - (reg.y + y))


def rect(reg) -> list[int]:
    """The region's box on the screen: left, top, right, bottom (for cropping screenshots)."""
    left, top = to_screen(reg, 0, reg.height)
    return [left, top, left + reg.width, top + reg.height]


def override(a=None, reg=None) -> dict:
    return {"window": window(), "screen": window().screen, "area": a, "region": reg}


def until(condition, timeout: float, what: str, step: float = 0.1):
    """Wait (yielding) until `condition()` holds; TimeoutError naming `what` after `timeout` s."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"waited {timeout:.0f} s for {what}")
        yield step


def pause(seconds: float):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        yield 0.05


# --- where is that button? -----------------------------------------------------------

_probe: dict = {}


def _context_menu(self, context) -> None:
    """Appended to Blender's button context menu: note what the right-clicked button is."""
    op = getattr(context, "button_operator", None)
    prop = getattr(context, "button_prop", None)
    hit = {}
    if op is not None:
        hit["op"] = op.bl_rna.identifier
        hit["args"] = {k: getattr(op, k) for k in op.bl_rna.properties.keys()
                       if k != "rna_type" and op.is_property_set(k)}
    if prop is not None:
        hit["prop"] = prop.identifier
    _probe["hit"] = hit


bpy.types.UI_MT_button_context_menu.append(_context_menu)


def probe(x: int, y: int, job_running: bool = False):
    """Right-click at screen (x, y); returns (via StopIteration) what Blender's menu named
    there, or None. The menu is closed with Esc, or, while a job runs (Esc would cancel
    it), by moving the pointer far away, which closes a Blender menu too."""
    _probe.clear()
    xdo("mousemove", x, y, "click", 3)
    start = time.monotonic()
    while "hit" not in _probe and time.monotonic() - start < 0.4:
        yield 0.02
    hit = _probe.get("hit")
    if job_running:
        for step in range(1, 6):
            xdo("mousemove", max(5, x - 150 * step), y)
            yield 0.03
        yield 0.2
    else:
        xdo("key", "Escape")
        yield 0.05
    return hit


def find(reg, want, xfrac: float = 0.35, step: int = 12, job_running: bool = False, below: int | None = None):
    """Screen point of the first button in `reg` (scanning down a column at `xfrac` of
    its width, from its top or from screen row `below`) for which `want(hit)` holds."""
    x = int(reg.width * xfrac)
    start = reg.height - 8 if below is None else window().height - reg.y - below
    for y in range(min(start, reg.height - 8), 8, -step):
        sx, sy = to_screen(reg, x, y)
        hit = yield from probe(sx, sy, job_running)
        result.setdefault("scans", []).append([sx, sy, hit])
        if hit is not None and want(hit):
            log(f"found {hit} at {sx},{sy}")
            return sx, sy
    raise LookupError(f"no button for {want.__doc__ or want} in region {reg.type}")


def op_is(name: str, **args):
    """A hit on operator `name` with these arguments (False or None: not set on the button)."""
    def want(hit):
        given = hit.get("args", {})
        return hit.get("op") == name and all(given.get(k) == v if v else not given.get(k) for k, v in args.items())
    want.__doc__ = f"operator {name} {args or ''}"
    return want


def prop_is(name: str):
    def want(hit):
        return hit.get("prop") == name and "op" not in hit
    want.__doc__ = f"property {name}"
    return want


_LAYOUT = Path(os.environ.get("BRUSHWORK_GUI_LAYOUT", OUT / "layout.json"))
layout: dict = json.loads(_LAYOUT.read_text()) if _LAYOUT.is_file() else {}


def locate(reg, want, xfrac: float = 0.35, job_running: bool = False, below: int | None = None):
    """`find`, but first where an earlier run found it (one probe to confirm): the GUI
    tests share BRUSHWORK_GUI_LAYOUT, so the panel is scanned once, not in every test."""
    key = f"{reg.type}:{want.__doc__}:{xfrac}"
    if key in layout:
        hit = yield from probe(*layout[key], job_running)
        if hit is not None and want(hit):
            return tuple(layout[key])
    point = yield from find(reg, want, xfrac, job_running=job_running, below=below)
    layout[key] = point
    _LAYOUT.write_text(json.dumps(layout))
    return point


def hit_is(expected: dict, doc: str):
    def want(hit):
        return hit == expected
    want.__doc__ = doc
    return want


def click(point, button: int = 1) -> None:
    xdo("mousemove", *point, "click", button)


# --- pictures --------------------------------------------------------------------------

def pixels(path: str):
    """A screenshot as a numpy array (rows top to bottom, RGB 0–1)."""
    import numpy as np
    image = bpy.data.images.load(path, check_existing=False)
    try:
        w, h = image.size
        buf = np.empty(w * h * 4, np.float32)
        image.pixels.foreach_get(buf)
    finally:
        bpy.data.images.remove(image)
    return buf.reshape(h, w, 4)[::-1, :, :3]


def popup_box(before: str, after: str) -> list[int] | None:
    """left, top, right, bottom of a popup that opened between two screenshots: the
    changed pixels' leftmost column, and that column's changed rows."""
    import numpy as np
    diff = np.abs(pixels(before) - pixels(after)).max(axis=2) > 0.02
    cols = np.nonzero(diff.any(axis=0))[0]
    if not len(cols):
        return None
    rows = np.nonzero(diff[:, cols[0] + 4])[0]
    return [int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1]


# --- running a scenario --------------------------------------------------------------

def finish(status: str) -> None:
    result["status"] = status
    (OUT / "result.json").write_text(json.dumps(result, indent=1, default=str))
    log(f"finished: {status}")


def run(scenario, quit_after: bool = True) -> None:
    """Walk the scenario generator from a timer; write OUT/result.json; quit Blender."""
    steps = scenario()

    def tick():
        try:
            return max(0.01, float(next(steps) or 0.01))
        except StopIteration:
            finish("ok")
        except Exception:
            result["error"] = traceback.format_exc()
            print(result["error"], file=sys.stderr, flush=True)
            finish("error")
        if quit_after:
            bpy.app.timers.register(_quit, first_interval=0.2)
        return None

    bpy.app.timers.register(tick, first_interval=1.0)


def _quit():
    bpy.ops.wm.quit_blender()
