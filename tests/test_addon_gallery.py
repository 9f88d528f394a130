"""The add-on's artist-first features in Blender (the `bpy` module, background mode): the
gallery of paintings in the Style panel, the live before/after Mix, the quick preview."""
import json
from pathlib import Path

import numpy as np

from blender_env import run_in_blender
from core.media.image_io import read_image
from support import DATA, ROOT, scene

MANIFEST = json.loads((ROOT / "core" / "gallery" / "manifest.json").read_text(encoding="utf-8"))


def test_the_gallery_lists_every_shipped_painting_with_its_preview(tmp_path):
    proc = run_in_blender('''
import sys
bpy.ops.wm.read_homefile(use_empty=True)
settings = bpy.context.scene.brushwork
shelf = sys.modules[ADDON_MODULE + ".addon.previews"].gallery_previews()
props = sys.modules[ADDON_MODULE + ".addon.properties"]
ui = bpy.types.UILayout                            # the enum as Blender's own UI reads it
ids = [i[0] for i in props._gallery_items(settings, bpy.context)]
out = {"items": [(k, ui.enum_item_name(settings, "style_gallery", k),
                  ui.enum_item_description(settings, "style_gallery", k),
                  ui.enum_item_icon(settings, "style_gallery", k)) for k in ids],
       "previews": {k: [list(p.image_size), p.icon_id] for k, p in shelf.items()},
       "source": settings.style_source, "painting": settings.style_gallery,
       "path": props.style_path(settings), "ready": props.check_settings(settings)}
settings.style_image = "/nowhere/mine.jpg"         # Browse… (or a script) picks a file: it wins
out["after_file"] = [settings.style_source, props.style_path(settings), props.check_settings(settings)]
settings.style_gallery = "vallotton-red-room"      # a click in the grid: the gallery again
out["after_pick"] = [settings.style_source, props.style_path(settings)]
labels = []
class Layout:                                      # records what the panel draws (no UI here)
    def __getattr__(self, name):
        return lambda *a, **k: Layout()
    def label(self, text="", **k):
        labels.append(text)
    def template_icon_view(self, data, name, **k):
        labels.append(f"grid:{name}")
sys.modules[ADDON_MODULE + ".addon.panels"].draw(Layout(), bpy.context)
out["labels"] = labels
report(out)
''', tmp_path)
    r = proc.result
    root = Path(r["path"]).parent.parent  # the installed core/gallery/
    # Every shipped painting, in the manifest's order: its title, "artist, year — look" and
    # its thumbnail (icon ids are 0 without a UI: Blender gives none in background mode).
    assert [i[:3] for i in r["items"]] == [
        [e["id"], e["title"], f"{e['artist']}, {e['year']} — {e['look']}"] for e in MANIFEST]
    assert len(r["items"]) == len(list((ROOT / "core" / "gallery" / "paintings").glob("*.jpg"))) == 24
    for identifier, *_, icon in r["items"]:
        size, preview_icon = r["previews"][identifier]
        assert min(size) > 0 and icon == preview_icon
    # A new scene is ready to paint: the gallery's default painting, no file needed.
    assert r["source"] == "GALLERY" and r["painting"] == "monet-cliff-walk" and r["ready"] is None
    assert r["path"] == str(root / "paintings" / "monet-cliff-walk.jpg") and Path(r["path"]).is_file()
    assert r["after_file"] == ["FILE", "/nowhere/mine.jpg", "Style image not found: /nowhere/mine.jpg"]
    assert r["after_pick"] == ["GALLERY", str(root / "paintings" / "vallotton-red-room.jpg")]
    # The panel shows the grid and credits the painting: title, artist and year, licence.
    assert "grid:style_gallery" in r["labels"]
    assert {"The Red Room, Etretat", "Félix Edouard Vallotton, 1899"} <= set(r["labels"])
    assert any("CC0" in line for line in r["labels"])


def test_a_gallery_style_runs_end_to_end(tmp_path):
    """Two gallery paintings, a red one and a sea-green one: each reaches the job."""
    proc = run_in_blender(scene(tmp_path) + '''
out = {}
settings.method = "WCT_R31"
for painting in ("vallotton-red-room", "manet-sea-view"):
    settings.style_gallery = painting
    assert bpy.ops.brushwork.stylize_texture() == {"FINISHED"}
    node = next(n for n in nt.nodes if n.get("brushwork_original"))
    out[painting] = [bpy.path.abspath(node.image.filepath), node["brushwork_style"]]
report(out)
''', tmp_path)
    r = proc.result
    red, sea = (read_image(r[p][0]).color.reshape(-1, 3).mean(axis=0) for p in ("vallotton-red-room", "manet-sea-view"))
    assert red[0] - red[2] > sea[0] - sea[2] + 0.05, (red, sea)
    for painting, (_, style) in r.items():
        assert Path(style).name == f"{painting}.jpg" and "gallery" in Path(style).parts
    source = read_image(str(DATA / "wood_basecolor.png")).color
    assert np.abs(read_image(r["manet-sea-view"][0]).color - source).mean() > 0.05


def test_the_before_after_slider_mixes_live_and_apply_strength_repaints(tmp_path):
    proc = run_in_blender(scene(tmp_path) + '''
import sys
driving = sys.modules[ADDON_MODULE + ".addon.driving"]
Worker = sys.modules[ADDON_MODULE + ".addon.worker_client"].Worker
before = links()
assert bpy.ops.brushwork.stylize_texture() == {"FINISHED"}
mix = nt.nodes["Image Texture (Brushwork mix)"]
out = {"after": links(), "slider": mat.brushwork_mix, "factor": mix.inputs["Factor"].default_value}
started = []                                  # any worker started from here on
init = Worker.__init__
Worker.__init__ = lambda self, *a, **k: (started.append(1), init(self, *a, **k))[1]
mat.brushwork_mix = 0.4                       # the slider: pixels mixed at once, no job
out["mixed"] = [round(mix.inputs["Factor"].default_value, 6), len(started), driving.is_running()]
out["files"] = sorted(p.name for p in (Path(TMP) / "stylized").iterdir())
settings.strength = 0.5                       # Apply Strength: 0.4 of a result painted at 1.0
assert bpy.ops.brushwork.stylize_texture(apply_strength=True) == {"FINISHED"}
ours = [n for n in nt.nodes if n.get("brushwork_original")]
out["applied"] = {"strength": round(settings.strength, 6), "painted": [round(n["brushwork_strength"], 6) for n in ours],
                  "slider": mat.brushwork_mix, "factor": mix.inputs["Factor"].default_value,
                  "workers": len(started), "mixes": [n.name for n in nt.nodes if n.get("brushwork_mix")]}
assert bpy.ops.brushwork.revert_texture() == {"FINISHED"}
out["reverted"] = links() == before
out["left"] = [n.name for n in nt.nodes if "Brushwork" in n.name]
try:                                          # nothing stylized now: nothing to apply
    bpy.ops.brushwork.stylize_texture(apply_strength=True)
except RuntimeError as e:
    out["nothing"] = str(e)
report(out)
''', tmp_path)
    r = proc.result
    assert r["slider"] == 1.0 and r["factor"] == 1.0
    assert r["mixed"] == [0.4, 0, False] and r["files"] == ["wood_basecolor.stylized.png"]
    a = r["applied"]
    assert a["strength"] == 0.4 and a["painted"] == [0.4] and a["workers"] == 1
    assert a["slider"] == 1.0 and a["factor"] == 1.0 and a["mixes"] == ["Image Texture (Brushwork mix)"]
    assert r["reverted"] and r["left"] == []
    assert "Nothing to apply" in r["nothing"]
    # The two results differ as strengths do: 0.4 keeps more of the original texture.
    source = read_image(str(DATA / "wood_basecolor.png")).color
    full, applied = (read_image(str(tmp_path / "stylized" / n)).color
                     for n in ("wood_basecolor.stylized.png", "wood_basecolor.stylized.001.png"))
    assert np.abs(applied - source).mean() < np.abs(full - source).mean()


def test_a_quick_preview_paints_a_small_image_and_leaves_the_material_alone(tmp_path):
    proc = run_in_blender(scene(tmp_path) + '''
import sys
grid = bpy.data.images.new("Grid", 2048, 1024)   # a large map (only Blender holds its pixels)
grid.generated_type = "COLOR_GRID"
colour.image = grid
before, images = links(), sorted(i.name for i in bpy.data.images)
assert bpy.ops.brushwork.preview_texture() == {"FINISHED"}
shown = bpy.data.images["Brushwork Preview"]
out = {"size": list(shown.size), "file": bpy.path.abspath(shown.filepath), "same_links": links() == before,
       "images": sorted(i.name for i in bpy.data.images), "before": images,
       "note": bpy.context.window_manager.brushwork_job.preview, "grid": [grid.source, grid.filepath]}
labels = []
class Layout:
    def __getattr__(self, name):
        return lambda *a, **k: Layout()
    def label(self, text="", **k):
        labels.append(text)
    def operator(self, idname, **k):
        labels.append(idname)
        return type("Props", (), {})()
sys.modules[ADDON_MODULE + ".addon.panels"].draw(Layout(), bpy.context)
out["labels"] = labels
assert bpy.ops.brushwork.discard_preview() == {"FINISHED"}
out["discarded"] = ["Brushwork Preview" in bpy.data.images, Path(out["file"]).exists()]
report(out)
''', tmp_path)
    r = proc.result
    assert r["size"] == [512, 256] and r["note"] == "Grid: 512×256 of 2048×1024"
    assert r["same_links"] and r["images"] == sorted(r["before"] + ["Brushwork Preview"])
    assert r["grid"] == ["GENERATED", ""]
    assert "Preview Grid: 512×256 of 2048×1024" in r["labels"] and "brushwork.discard_preview" in r["labels"]
    assert not (tmp_path / "stylized").exists()          # nothing beside the .blend
    assert r["discarded"] == [False, False]
