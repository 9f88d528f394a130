"""What an artist does in Blender's window, one scenario per run (tests/gui/test_gui_*.py).

    blender scene.blend --python scenarios.py -- NAME

Each scenario clicks and types through the X server (gui.py), notes what the scene and
the disk hold at each point in `gui.result`, takes screenshots, and ends; the test reads
OUT/result.json and the screenshots. Setting up what the test is not about (which tab the
sidebar shows, a bigger texture) is done through the API; what is tested goes through input.
"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bpy  # noqa: E402

import gui  # noqa: E402

R = gui.result
STYLIZE = gui.op_is("BRUSHWORK_OT_stylize_texture", apply_strength=False)


def workers() -> list[int]:
    """Brushwork worker processes alive now (`python -m core worker`)."""
    found = []
    for pid in os.listdir("/proc"):
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"core" in args and b"worker" in args:
            found.append(int(pid))
    return found


def files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def state() -> dict:
    """The material as the tests compare it: its links, its images, the slider."""
    mat = bpy.data.materials["Wood"]
    links = sorted(f"{l.from_node.name}.{l.from_socket.identifier}->{l.to_node.name}.{l.to_socket.identifier}"
                   for l in mat.node_tree.links)
    return {"links": links, "images": sorted(i.name for i in bpy.data.images if i.type == "IMAGE"),
            "mix": round(mat.brushwork_mix, 3), "nodes": len(mat.node_tree.nodes)}


def job():
    return bpy.context.window_manager.brushwork_job


def sidebar():
    """The 3D View's sidebar open on the Brushwork tab (the tab is found by name, not clicked)."""
    v3d = gui.area("VIEW_3D")
    v3d.spaces.active.show_region_ui = True
    yield 0.3
    ui = gui.region(v3d, "UI")
    ui.active_panel_category = "Brushwork"
    ui.tag_redraw()
    yield 0.5
    return v3d, ui


def bigger_texture(side: int):
    """Make the base colour map `side` px (saved beside the .blend, .blend saved), so that a
    job runs long enough to be interrupted."""
    image = bpy.data.images["wood_basecolor.png"]
    image.scale(side, side)
    image.save()
    bpy.ops.wm.save_mainfile()
    yield 0.2


def start_stylize(ui):
    """Click Stylize Texture; returns once the worker reports progress."""
    button = yield from gui.locate(ui, STYLIZE)
    gui.click(button)
    yield from gui.until(lambda: job().running and job().progress > 0, 60, "the job's first progress")
    return button


# --- scenarios -------------------------------------------------------------------------

def quit_mid_job():
    """Ctrl-Q while Stylize Texture runs: what is left after Blender has gone."""
    v3d, ui = yield from sidebar()
    yield from bigger_texture(1536)
    R["saved"] = state()
    R["blend"] = bpy.data.filepath
    stylized = Path(bpy.data.filepath).parent / "stylized"
    yield from start_stylize(ui)
    R["running"] = job().running
    R["workers_during"] = workers()
    R["files_during"] = files(stylized)
    R["dirty"] = bpy.data.is_dirty
    gui.shot("quit_running")
    centre = gui.to_screen(gui.region(v3d), 300, 300)
    gui.xdo("mousemove", *centre, "key", "ctrl+q")
    gui.finish("quitting")   # Blender quits on its own now; result.json is written first
    yield 30   # not reached if Blender quits


def reopen():
    """The .blend as Blender opens it again."""
    R["state"] = state()
    R["files"] = files(Path(bpy.data.filepath).parent / "stylized")
    yield 0.1


if __name__ == "__main__":
    name = sys.argv[sys.argv.index("--") + 1]
    gui.run(globals()[name], quit_after=name != "quit_mid_job")
