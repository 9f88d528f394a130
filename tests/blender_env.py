"""Run Python inside Blender (the `bpy` module) with the Brushwork extension installed.

A plain helper for tests, not a conftest. Every call runs in a *fresh subprocess*, so
Blender's global state (preferences, registered classes, sys.modules) never leaks into
the pytest process or into another test.

    from blender_env import run_in_blender

    def test_panel(tmp_path):
        proc = run_in_blender('''
            import bpy
            report({"has_op": hasattr(bpy.ops.brushwork, "stylize")})
        ''', tmp_path)
        assert proc.result == {"has_op": True}

Contract of `run_in_blender(code, tmp_path, *, timeout=180, check=True)`:

- The extension zip is built once per test session by `extension_zip()` (which calls
  `scripts/build_extension.py`'s `build()` for linux-x64, this machine's platform, so it
  is validated by Blender's own tool) and cached in a temporary folder removed when the
  session's interpreter exits.
- The child is `sys.executable` (the venv Python that has `bpy`), started with cwd
  `tmp_path`, without PYTHONPATH (so `core` cannot be imported from the repository by
  accident) and with BLENDER_USER_RESOURCES=`tmp_path/blender_user`; any
  BLENDER_USER_{CONFIG,SCRIPTS,EXTENSIONS,DATAFILES} overrides are dropped. That folder is
  wiped at the start of every call: each call starts from a clean Blender user profile,
  and nothing is written to the real ~/.config/blender.
- Before `code` runs, the child installs the zip the way "Install from Disk" does,
  `bpy.ops.extensions.package_install_files(filepath=zip, repo="user_default",
  enable_on_install=False)`, then enables it with `addon_utils.enable(ADDON_MODULE,
  default_set=True)` (what enable_on_install itself calls), so an import or register()
  error shows its full traceback on stderr and the child exits with INSTALL_FAILED (3).
- `code` is dedented and run as a module-level script (file `tmp_path/blender_code.py`,
  so tracebacks point at its lines) with these globals besides the builtins:
  `bpy`, `ADDON_MODULE` ("bl_ext.user_default.brushwork"), `PACKAGE_ROOT` (pathlib.Path of
  the installed package: the folder holding `__init__.py`, `addon/`, `core/`, `models/`),
  `ZIP` (pathlib.Path of the zip) and `report(obj)`, which stores one JSON-serialisable
  object (a later call replaces it). An uncaught exception exits 1; `sys.exit(n)` exits n.
- Returns `subprocess.CompletedProcess` (text stdout/stderr; Blender prints its own lines
  there too) with one extra attribute, `result`: the object given to `report()`, or None.
- With `check=True` a non-zero exit raises AssertionError quoting the tail of stdout and
  stderr; `timeout` (seconds) raises subprocess.TimeoutExpired.
- Files it writes in `tmp_path`: `blender_user/`, `blender_run.py`, `blender_code.py`,
  `blender_result.json`; the rest of `tmp_path` is the test's own.
"""
from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDON_MODULE = "bl_ext.user_default.brushwork"
INSTALL_FAILED = 3

_zip_path: Path | None = None


DATA = ROOT / "tests" / "data"


def wood_scene(tmp_path: Path, through_hue: bool) -> str:
    """Script: `pbr_scene` over copies of tests/data's wood maps in `tmp_path`, with TMP and
    DATA set and painting.jpg as the style."""
    return (f"TMP = {str(tmp_path)!r}\nDATA = {str(DATA)!r}\n" + _WOOD_FILES + pbr_scene(through_hue))


def sha(path: Path) -> str:
    """A file's sha256: originals must come out of every run byte for byte."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


_WOOD_FILES = '''
import bpy, shutil
from pathlib import Path
for name in ("wood_basecolor.png", "wood_normal.png", "wood_roughness.png"):
    shutil.copy(Path(DATA) / name, Path(TMP) / name)
STYLE = str(Path(DATA) / "painting.jpg")
'''


def pbr_scene(through_hue: bool) -> str:
    """Script: a cube with the wood PBR material (images from TMP), base colour directly or
    through a Hue/Saturation pass-through, roughness and normal as Non-Color data; the scene
    saved as TMP/scene.blend, STYLE as the style image; `links()` lists the material's links."""
    base = ('hue = nt.nodes.new("ShaderNodeHueSaturation")\n'
            'nt.links.new(colour.outputs["Color"], hue.inputs["Color"])\n'
            'nt.links.new(hue.outputs["Color"], bsdf.inputs["Base Color"])\n') if through_hue else \
        'nt.links.new(colour.outputs["Color"], bsdf.inputs["Base Color"])\n'
    return _PBR_SCENE.replace("BASE_COLOUR_LINK\n", base)


_PBR_SCENE = '''
tmp = Path(TMP)
bpy.ops.wm.read_homefile(use_empty=True)
bpy.ops.mesh.primitive_cube_add()
obj = bpy.context.active_object
mat = bpy.data.materials.new("Wood")
mat.use_nodes = True
obj.data.materials.append(mat)
nt = mat.node_tree
bsdf = nt.nodes["Principled BSDF"]
def image_node(name, data):
    node = nt.nodes.new("ShaderNodeTexImage")
    node.image = bpy.data.images.load(str(tmp / name))
    if data:
        node.image.colorspace_settings.name = "Non-Color"
    return node
colour = image_node("wood_basecolor.png", False)
BASE_COLOUR_LINK
rough = image_node("wood_roughness.png", True)
nt.links.new(rough.outputs["Color"], bsdf.inputs["Roughness"])
normal = image_node("wood_normal.png", True)
nmap = nt.nodes.new("ShaderNodeNormalMap")
nt.links.new(normal.outputs["Color"], nmap.inputs["Color"])
nt.links.new(nmap.outputs["Normal"], bsdf.inputs["Normal"])
bpy.ops.wm.save_as_mainfile(filepath=str(tmp / "scene.blend"))
settings = bpy.context.scene.brushwork
settings.style_image = STYLE
settings.method = "WCT_R31"
def links():
    return sorted((l.from_node.name, l.to_node.name, l.to_socket.identifier) for l in nt.links)
'''


def build_extension_module():
    """scripts/build_extension.py, imported by path (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("build_extension", ROOT / "scripts" / "build_extension.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def extension_zip() -> Path:
    """The built, validated extension zip: built on first use, then reused all session."""
    global _zip_path
    if _zip_path is None or not _zip_path.is_file():
        out = Path(tempfile.mkdtemp(prefix="brushwork-ext-test-"))
        atexit.register(shutil.rmtree, out, ignore_errors=True)
        _zip_path = build_extension_module().build(out, ("linux-x64",))[0]
    return _zip_path


_PRELUDE = '''\
import json, sys, traceback
from pathlib import Path

import bpy  # first: importing bpy puts Blender's script modules (addon_utils, ...) on sys.path
import addon_utils

ZIP, ADDON_MODULE, CODE, RESULT = Path({zip!r}), {module!r}, Path({code!r}), Path({result!r})


def report(obj):
    RESULT.write_text(json.dumps(obj), encoding="utf-8")


def _fail(ex):
    traceback.print_exception(ex)
    print("blender_env: installing/enabling", ADDON_MODULE, "failed", file=sys.stderr)
    sys.stderr.flush()
    sys.exit({failed})


try:
    bpy.ops.extensions.package_install_files(filepath=str(ZIP), repo="user_default", enable_on_install=False)
except Exception as ex:
    _fail(ex)
if addon_utils.enable(ADDON_MODULE, default_set=True, handle_error=_fail) is None:
    _fail(RuntimeError("addon_utils.enable returned None"))
PACKAGE_ROOT = Path(sys.modules[ADDON_MODULE].__file__).parent

_globals = {{"__name__": "__main__", "__file__": str(CODE), "bpy": bpy, "ADDON_MODULE": ADDON_MODULE,
            "PACKAGE_ROOT": PACKAGE_ROOT, "ZIP": ZIP, "report": report}}
exec(compile(CODE.read_text(encoding="utf-8"), str(CODE), "exec"), _globals)
'''


def blender_environ(tmp_path: Path) -> dict[str, str]:
    """The child's environment: Blender's user profile redirected into tmp_path/blender_user."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "BLENDER_USER_CONFIG", "BLENDER_USER_SCRIPTS",
                "BLENDER_USER_EXTENSIONS", "BLENDER_USER_DATAFILES"):
        env.pop(key, None)
    env["BLENDER_USER_RESOURCES"] = str(Path(tmp_path) / "blender_user")
    return env


def run_in_blender(code: str, tmp_path: Path, *, timeout: float = 180,
                   check: bool = True) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Blender (bpy) subprocess with Brushwork installed; see the module doc."""
    tmp_path = Path(tmp_path).resolve()
    zip_path = extension_zip()
    user = tmp_path / "blender_user"
    shutil.rmtree(user, ignore_errors=True)
    user.mkdir(parents=True)
    code_file, result_file, runner = (tmp_path / "blender_code.py", tmp_path / "blender_result.json",
                                      tmp_path / "blender_run.py")
    result_file.unlink(missing_ok=True)
    code_file.write_text(textwrap.dedent(code), encoding="utf-8")
    runner.write_text(_PRELUDE.format(zip=str(zip_path), module=ADDON_MODULE, code=str(code_file),
                                      result=str(result_file), failed=INSTALL_FAILED), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(runner)], cwd=tmp_path, env=blender_environ(tmp_path),
                          capture_output=True, text=True, timeout=timeout)
    proc.result = json.loads(result_file.read_text(encoding="utf-8")) if result_file.is_file() else None
    if check and proc.returncode != 0:
        raise AssertionError(f"Blender subprocess exited {proc.returncode}"
                             f"{' (install/enable failed)' if proc.returncode == INSTALL_FAILED else ''}\n"
                             f"--- stdout (tail) ---\n{proc.stdout[-4000:]}\n"
                             f"--- stderr (tail) ---\n{proc.stderr[-4000:]}")
    return proc
