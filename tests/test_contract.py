"""One job contract (core/jobs/schema.py) between the add-on, the CLI, the worker and the
engine, held in one place: the add-on's spec code runs here without Blender (bpy blocked),
every spec it builds is one the worker accepts, and the defaults and ranges of the panel,
the CLI, the job dataclasses and the engine's own checks are the schema's.
"""
import math
import sys
import types
from pathlib import Path

import pytest

from blender_env import run_in_blender
from core import backends
from core.app import cli
from core.engine.stylizer import Settings
from core.errors import BrushworkError, SettingError
from core.jobs import frames, image, image_set, movie, schema
from core.jobs.spec import from_spec
from core.media import video
from core.scene import depth

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def addon(monkeypatch):
    """The add-on's bpy-free modules, imported as the extension lays them out (the package
    holding addon/ and core/), with `import bpy` made to fail."""
    parent = types.ModuleType("brushwork_ext")
    parent.__path__ = [str(ROOT)]
    monkeypatch.setitem(sys.modules, "brushwork_ext", parent)
    monkeypatch.setitem(sys.modules, "bpy", None)   # import bpy raises ImportError
    import importlib
    mods = types.SimpleNamespace(**{name: importlib.import_module(f"brushwork_ext.addon.{name}")
                                    for name in ("jobspec", "choices", "worker_client", "gallery")})
    yield mods
    for name in [n for n in sys.modules if n.startswith("brushwork_ext")]:
        monkeypatch.delitem(sys.modules, name)


class Settings_(types.SimpleNamespace):
    """The panel's settings as a plain object (what `scene.brushwork` holds)."""

    def get(self, key, default=None):
        return getattr(self, key, default)


def _settings(style: str, **kw) -> Settings_:
    values = dict(style_source="FILE", style_image=style, strength=1.0, preserve_color=False, style_scale=1.0,
                  tile=512, device="AUTO", method="AUTO", tileable="AUTO", coherence=0.75, movie_coherence="flow",
                  depth_side="both", far_scale=1.0, focus_distance=0.0, falloff=0.0)
    return Settings_(**{**values, **kw})


def test_every_spec_the_addon_builds_is_one_the_worker_accepts(addon, tmp_path):
    style = str(ROOT / "tests" / "data" / "painting.jpg")
    s = _settings(style)
    j = addon.jobspec
    specs = {
        image.Job: [j.texture(s, "a.png", "b.png"), j.texture(s, "a.png", "b.png", 0.5, emission=True),
                    j.render_still(s, "r.png", "o.png", overwrite=True), j.panorama_still(s, "p.png", "q.png"),
                    j.render_depth_aware(_settings(style, focus_distance=3.0, falloff=1.0), "r.png", "o.png",
                                         "passes.exr", None)],
        image_set.ImageSetJob: [j.texture_set(s, ["a.png", "b.png"], ["c.png", "d.png"], True),
                                j.texture_set(s, ["e.png"], ["f.png"], False, emission=True)],
        frames.FramesJob: [j.render_frames(s, "in", "out", "m.mp4", 24.0, "vectors"),
                           j.panorama_frames(s, "in", "out", "m.mp4", 30.0)],
        movie.VideoJob: [j.movie(s, "clip.mov", "out.mp4", (1.0, 2.5))],
    }
    for cls, built in specs.items():
        for spec in built:
            schema.check_spec(spec)            # what the add-on checks before a worker starts
            assert addon.worker_client.spec_problem(spec) is None
            job = from_spec(cls, spec)         # what the worker builds from it
            assert job.styles == [style] and job.settings.strength in (1.0, 0.5)
    assert specs[image_set.ImageSetJob][1]["emission"] is True


def test_the_addon_refuses_a_spec_the_engine_would_without_a_process(addon, tmp_path):
    """A tile the panel's integer field allows but the engine refuses: the worker never
    starts, the job ends with the engine's own words."""
    spec = addon.jobspec.texture(_settings(str(ROOT / "tests" / "data" / "painting.jpg"), tile=64), "a.png", "b.png")
    worker = addon.worker_client.Worker(spec, addon.worker_client.PythonSetup())
    assert worker.wait(1) == {"type": "result", "status": "error", "message": "tile 64: use 0 or at least 128"}
    worker.cancel()   # nothing to stop, nothing to fail
    worker.kill_after(0.1)


def test_the_addon_reads_the_engine_gallery(addon):
    from core import gallery
    assert [p.id for p in addon.gallery.paintings()] == [p.id for p in gallery.available()]
    assert addon.gallery.default_id() == gallery.DEFAULT
    chosen = _settings("", style_source="GALLERY", style_gallery="monet-cliff-walk")
    assert addon.choices.style_path(chosen) == str(gallery.find("monet-cliff-walk").path)


def test_defaults_are_the_schemas_in_the_cli_and_the_job_dataclasses():
    d = schema.DEFAULTS
    assert (Settings().strength, Settings().style_scale, Settings().tile) == (d["strength"], d["style_scale"], d["tile"])
    job = image.Job(content="a", output="b", styles=["s"])
    assert (job.far_scale, job.depth_side, job.hdr, job.emission, job.poles) == \
        (d["far_scale"], d["depth_side"], d["hdr"], d["emission"], d["poles"])
    seq = frames.FramesJob(frames="f", output="o", styles=["s"])
    assert (seq.coherence, seq.fps) == (d["coherence"], d["fps"])
    clip = movie.VideoJob(movie="m", output="o", styles=["s"])
    assert (clip.blend, clip.start) == (d["blend"], d["start"])
    for command, flags in {"stylize": ("strength", "style_scale", "far_scale", "depth_side", "device", "backend",
                                       "precision"), "frames": ("fps", "coherence"), "video": ("start",)}.items():
        parsed = cli._parser().parse_args([command, "x", "s", "-o", "y"])
        assert {f: getattr(parsed, f) for f in flags} == {f: d[f] for f in flags}, command
    assert schema.PRECISIONS == backends.PRECISIONS
    assert (schema.MAX_FPS, schema.MAX_FAR_SCALE) == (video.MAX_FPS, depth.MAX_FAR_SCALE)


def _refuses(check, value) -> bool:
    try:
        check(value)
    except (SettingError, BrushworkError):
        return True
    return False


@pytest.mark.parametrize("name, check", [
    ("strength", lambda v: Settings(strength=v).check()),
    ("style_scale", lambda v: Settings(style_scale=v).check()),
    ("tile", lambda v: Settings(tile=v).check()),
    ("fps", video.check_fps),
    ("far_scale", lambda v: depth.check_settings(None, None, v)),
    ("falloff", lambda v: depth.check_settings(None, v)),
])
def test_the_engine_refuses_exactly_what_the_schema_rules_out(name, check):
    r = schema.RANGES[name]
    probes = {r.low, r.high, *r.also, r.low - 1, r.low + 0.5, r.high + 1, r.high - 0.5, math.nan, math.inf}
    for v in sorted(p for p in probes if not (isinstance(p, float) and math.isinf(p) and p == r.high)):
        if r.integer:   # whole numbers only: a fraction is refused by the type check before
            if not math.isfinite(v) or v != int(v):
                continue
            v = int(v)
        assert _refuses(check, v) != r.holds(v), (name, v)


def test_the_panels_limits_and_defaults_are_the_schemas(tmp_path):
    proc = run_in_blender('''
props = bpy.types.Scene.bl_rna.properties["brushwork"].fixed_type.bl_rna.properties
report({n: [props[n].default, props[n].hard_min, props[n].hard_max] for n in
        ("strength", "style_scale", "tile", "coherence", "far_scale")} | {"depth_side": props["depth_side"].default})
''', tmp_path)
    r, d, ranges = proc.result, schema.DEFAULTS, schema.RANGES
    for name in ("strength", "style_scale"):
        assert r[name] == [d[name], ranges[name].low, ranges[name].high], name
    assert r["tile"][0] == d["tile"] and r["coherence"][:2] == [d["coherence"], ranges["coherence"].low]
    assert r["coherence"][2] < ranges["coherence"].high and r["far_scale"][0] == d["far_scale"]
    assert ranges["far_scale"].holds(r["far_scale"][1]) and ranges["far_scale"].holds(r["far_scale"][2])
    assert r["depth_side"] == d["depth_side"]
