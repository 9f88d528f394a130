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
GALLERY = gui.hit_is({}, "the gallery's icon view (a button with no property in its menu)")
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


def wait_job(timeout: float = 120):
    """Until the running Brushwork job has ended; the progress seen meanwhile goes in R."""
    seen = R.setdefault("progress", [])
    start = time.monotonic()
    while job().running:
        if time.monotonic() - start > timeout:
            raise TimeoutError("the Brushwork job did not end")
        if not seen or seen[-1] != [job().status, round(job().progress, 2)]:
            seen.append([job().status, round(job().progress, 2)])
        yield 0.1
    yield 0.5   # the redraw after the job


def over_viewport(v3d, *keys):
    """Keys pressed with the pointer over the 3D viewport, as an artist's hand would."""
    gui.xdo("mousemove", *gui.to_screen(gui.region(v3d), 200, 200))
    for key in keys:
        gui.xdo("key", key)


def settings():
    return bpy.context.scene.brushwork


def stylized_node():
    return next((n for n in bpy.data.materials["Wood"].node_tree.nodes if n.get("brushwork_original")), None)


def material_shot(v3d, name: str):
    """A screenshot with the viewport in Material Preview (EEVEE), then Solid again."""
    shading = v3d.spaces.active.shading
    shading.type = "MATERIAL"
    yield from gui.pause(4)
    gui.shot(name)
    shading.type = "SOLID"
    yield 0.5


def artist():
    """The panel as an artist meets it: the gallery, a pick, Stylize, the result in Material
    Preview, undo and redo, the Mix slider, Apply Strength, Preview, Revert. Buttons are
    found and clicked in Solid shading; Material Preview (EEVEE on a software renderer)
    is switched on for the pictures of the result."""
    v3d, ui = yield from sidebar()
    R["panel_box"] = gui.rect(ui)
    R["viewport_box"] = gui.rect(gui.region(v3d))
    R["original"] = state()
    stylized = Path(bpy.data.filepath).parent / "stylized"

    # The gallery: its grid of previews, and a pick.
    R["style_before"] = settings().style_gallery
    icon_view = yield from gui.locate(ui, GALLERY)
    before = gui.shot("panel")
    gui.click(icon_view)
    yield from gui.pause(1.0)
    gui.shot("gallery_grid_first")   # previews load in the background: how many a second shows
    yield from gui.pause(6.0)
    grid = gui.shot("gallery_grid")
    box = gui.popup_box(before, grid)
    R["grid_box"] = box
    gui.click((box[0] + 60, box[1] + 60))   # the grid's first painting (the oldest)
    yield from gui.pause(1.0)
    R["style_after"] = settings().style_gallery
    yield from material_shot(v3d, "picked")

    # Stylize Texture, watched while it runs, and the result in the viewport.
    button = yield from start_stylize(ui)
    R["running_status"] = job().status
    gui.shot("progress")
    yield from wait_job()
    R["stylized"] = state()
    R["files"] = files(stylized)
    yield from material_shot(v3d, "stylized")

    # Undo and redo the finished job.
    over_viewport(v3d, "ctrl+z")
    yield from gui.pause(1.5)
    R["undone"] = state()
    over_viewport(v3d, "ctrl+shift+z")
    yield from gui.pause(1.5)
    R["redone"] = state()

    # The Mix slider: click it, type 0.5, Enter.
    slider = yield from gui.locate(ui, gui.prop_is("brushwork_mix"), below=button[1])
    gui.click(slider)
    yield 0.3
    gui.xdo("key", "ctrl+a", "type", "0.5")
    gui.xdo("key", "Return")
    yield from gui.pause(1)
    R["mixed"] = state()
    yield from material_shot(v3d, "mixed")

    # Apply Strength: paint again at 0.5.
    apply = yield from gui.locate(ui, gui.op_is("BRUSHWORK_OT_stylize_texture", apply_strength=True),
                                below=slider[1])
    gui.click(apply)
    yield from gui.until(lambda: job().running, 10, "Apply Strength to start")
    yield from wait_job()
    node = stylized_node()
    R["applied"] = {"strength": settings().strength, "painted": node.get("brushwork_strength") if node else None,
                    "state": state(), "files": files(stylized)}

    # Preview: a quick 512 px picture in the panel; the material untouched.
    preview = yield from gui.locate(ui, gui.op_is("BRUSHWORK_OT_preview_texture"), xfrac=0.8)
    gui.click(preview)
    yield from gui.until(lambda: job().running, 10, "Preview to start")
    yield from wait_job()
    R["preview"] = {"label": job().preview, "image": "Brushwork Preview" in bpy.data.images, "state": state()}
    yield from gui.pause(1)
    gui.shot("preview")

    # Revert Texture: the originals linked back.
    revert = yield from gui.locate(ui, gui.op_is("BRUSHWORK_OT_revert_texture"), below=apply[1])
    gui.click(revert)
    yield from gui.pause(1.5)
    R["reverted"] = state()
    gui.shot("reverted")


def interrupt():
    """Esc, then Cancel, each while Stylize Texture runs: nothing may change."""
    v3d, ui = yield from sidebar()
    yield from bigger_texture(1536)
    stylized = Path(bpy.data.filepath).parent / "stylized"
    R["before"] = {"state": state(), "files": files(stylized)}
    button = yield from start_stylize(ui)
    R["esc_running"] = job().running
    over_viewport(v3d, "Escape")
    yield from wait_job(30)
    yield from gui.until(lambda: not workers(), 15, "the worker to stop after Esc")
    R["after_esc"] = {"state": state(), "files": files(stylized), "workers": workers()}
    gui.shot("after_esc")
    gui.click(button)
    yield from gui.until(lambda: job().running and job().progress > 0, 60, "the second job's progress")
    cancel = yield from gui.locate(ui, gui.op_is("BRUSHWORK_OT_cancel"), xfrac=0.5, job_running=True,
                                 below=button[1] + 8)   # the row under the progress bar
    R["cancel_running"] = job().running
    gui.shot("cancel_visible")
    gui.click(cancel)
    yield from wait_job(30)
    yield from gui.until(lambda: not workers(), 15, "the worker to stop after Cancel")
    R["after_cancel"] = {"state": state(), "files": files(stylized), "workers": workers()}


def renders():
    """F12, then Stylize Render and Stylize Panorama from the panel."""
    v3d, ui = yield from sidebar()
    bpy.context.preferences.view.render_display_type = "NONE"   # keep the render out of a second window
    done = []
    bpy.app.handlers.render_complete.append(lambda *a: done.append(True))
    over_viewport(v3d, "F12")
    yield from gui.until(lambda: done, 120, "the F12 render")
    yield 0.5
    out = Path(bpy.data.filepath).parent / "stylized"
    button = yield from gui.locate(ui, gui.op_is("BRUSHWORK_OT_stylize_render"))
    gui.click(button)
    yield from gui.until(lambda: job().running, 10, "Stylize Render to start")
    yield from wait_job()
    R["render"] = {"images": sorted(i.name for i in bpy.data.images), "files": files(out)}
    panorama = yield from gui.locate(ui, gui.op_is("BRUSHWORK_OT_stylize_panorama"), xfrac=0.4)
    gui.click(panorama)
    yield from gui.until(lambda: job().running, 120, "Stylize Panorama to start")
    yield from wait_job()
    R["panorama"] = {"images": sorted(i.name for i in bpy.data.images), "files": files(out),
                     "engine": bpy.context.scene.render.engine}
    gui.shot("renders")


def install():
    """Install from Disk… in a profile without Brushwork, then the preferences' Check."""
    zip_path = os.environ["BRUSHWORK_GUI_ZIP"]
    R["before"] = gui.ADDON in bpy.context.preferences.addons
    bpy.ops.extensions.package_install_files("INVOKE_DEFAULT", filepath=zip_path)   # the menu item's file browser
    yield from gui.pause(2)
    gui.shot("file_browser")
    browser = next(a for w in bpy.context.window_manager.windows for a in w.screen.areas if a.type == "FILE_BROWSER")
    R["browser_file"] = browser.spaces.active.params.filename
    gui.xdo("key", "Return")
    yield from gui.until(lambda: gui.ADDON in bpy.context.preferences.addons, 120, "the add-on to be enabled")
    yield from gui.pause(1)
    R["enabled"] = True
    props = gui.area("PROPERTIES")
    props.ui_type = "PREFERENCES"
    bpy.context.preferences.active_section = "ADDONS"
    bpy.context.window_manager.addon_search = "Brushwork"
    with bpy.context.temp_override(**gui.override(props, gui.region(props))):
        bpy.ops.preferences.addon_expand(module=gui.ADDON)
    yield from gui.pause(1)
    check = yield from gui.locate(gui.region(props), gui.op_is("BRUSHWORK_OT_check_setup"), xfrac=0.5)
    gui.click(check)
    prefs_module = sys.modules[gui.ADDON + ".addon.preferences"]
    yield from gui.until(lambda: prefs_module._state["check"], 120, "Check's answer")
    R["check"] = prefs_module._state["check"]
    yield from gui.pause(1)
    gui.shot("check")


def reopen():
    """The .blend as Blender opens it again."""
    R["state"] = state()
    R["files"] = files(Path(bpy.data.filepath).parent / "stylized")
    yield 0.1


if __name__ == "__main__":
    name = sys.argv[sys.argv.index("--") + 1]
    gui.run(globals()[name], quit_after=name != "quit_mid_job")
