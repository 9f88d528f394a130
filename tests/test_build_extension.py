"""The Blender extension zip: its layout, Blender's validator, and a real install into bpy.

The zip is built once per session (blender_env.extension_zip); Blender runs only in
fresh subprocesses, so nothing here touches this process's bpy state.
"""
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from blender_env import ROOT, blender_environ, build_extension_module, extension_zip, run_in_blender

build_extension = build_extension_module()


@pytest.fixture(scope="module")
def names():
    with zipfile.ZipFile(extension_zip()) as zf:
        return set(zf.namelist())


def test_zip_is_named_after_the_manifest():
    with open(ROOT / "blender_manifest.toml", "rb") as fh:
        manifest = tomllib.load(fh)
    assert extension_zip().name == f"{manifest['id']}-{manifest['version']}-linux_x64.zip"


def test_manifest_wheels_are_the_pinned_ones_for_every_platform_and_python():
    with open(ROOT / "blender_manifest.toml", "rb") as fh:
        manifest = tomllib.load(fh)
    listed = [w.removeprefix("./wheels/") for w in manifest["wheels"]]
    assert sorted(listed) == sorted(build_extension.WHEELS)
    assert set(manifest["platforms"]) == set(build_extension.PLATFORMS)
    for platform in build_extension.PLATFORMS:
        for dist in ("onnxruntime", "openexr", "pillow"):
            for py in ("cp311", "cp313"):  # Blender 4.2–5.0, 5.1+
                assert [w for w in listed if w.startswith(f"{dist}-") and f"-{py}-" in w
                        and build_extension.wheel_platform(w) == platform], (platform, dist, py)


def test_the_linux_zip_carries_only_linux_wheels(names):
    wheels = sorted(n.removeprefix("wheels/") for n in names if n.startswith("wheels/"))
    assert wheels == sorted(w for w in build_extension.WHEELS if build_extension.wheel_platform(w) == "linux-x64")
    assert len(wheels) == 6   # onnxruntime, OpenEXR, Pillow × Python 3.11, 3.13
    with zipfile.ZipFile(extension_zip()) as zf:
        manifest = tomllib.loads(zf.read("blender_manifest.toml").decode())
    assert manifest["platforms"] == ["linux-x64"]


def test_zip_root_holds_the_package(names):
    for required in ("blender_manifest.toml", "__init__.py", "addon/__init__.py", "core/__init__.py",
                     "core/__main__.py", "core/app/worker.py", "models/MODELS.md", "models/LICENSE-LinearStyleTransfer.txt"):
        assert required in names
    from core.engine.names import METHOD_FILES
    runtime = {f for files in METHOD_FILES.values() for f in files}
    for ext in ("safetensors", "onnx"):
        shipped = {n for n in names if n.startswith("models/") and n.endswith(f".{ext}")}
        assert shipped == {f"models/{p.name}" for p in (ROOT / "models").glob(f"*.{ext}")
                           if ext == "onnx" or p.name in runtime or p.name == "vgg19_relu4_1.safetensors"}
        assert shipped
    assert "models/vgg19_relu4_1.safetensors" in names  # Learn This Painting's loss network
    assert "core/training/learn.py" in names


def test_zip_leaves_out_caches_and_tests(names):
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.startswith(("tests/", "scripts/", "docs/", "."))]
    assert not [n for n in names if "/." in n]
    # Only the manifest and the generated __init__.py sit at the root; no stray repo files.
    assert {n for n in names if "/" not in n} == {"blender_manifest.toml", "__init__.py"}


def test_root_init_only_reexports_the_addon():
    with zipfile.ZipFile(extension_zip()) as zf:
        text = zf.read("__init__.py").decode()
    assert "from .addon import register, unregister" in text
    assert not (ROOT / "__init__.py").exists()  # would break pytest's imports of core/ and tests/


def test_blenders_validator_accepts_the_zip():
    cli, tags = build_extension.find_blender_ext()
    proc = subprocess.run([sys.executable, str(cli), "validate", str(extension_zip()), "--valid-tags", str(tags)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_rejected_manifest_is_a_one_line_user_error(tmp_path, monkeypatch, capsys):
    root = tmp_path / "repo"
    root.mkdir()
    text = (ROOT / "blender_manifest.toml").read_text()
    (root / "blender_manifest.toml").write_text(text.replace('tags = [', 'tags = ["Not A Blender Tag", '))
    for name in ("addon", "core", "models"):
        (root / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.setattr(build_extension, "ROOT", root)
    assert build_extension.main(["--output-dir", str(tmp_path / "out"), "--platform", "linux-x64"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Not A Blender Tag" in err
    assert not list((tmp_path / "out").glob("*.zip"))


def test_missing_bpy_is_named(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(build_extension.importlib.util, "find_spec", lambda name: None)
    assert build_extension.main(["--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'bpy' package is not installed" in err


def test_shipped_core_runs_as_the_addon_runs_it(tmp_path):
    """`python -m core worker` with PYTHONPATH=<package root>, from the zip alone."""
    with zipfile.ZipFile(extension_zip()) as zf:
        zf.extractall(tmp_path / "brushwork")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "BRUSHWORK_MODELS")}
    env["PYTHONPATH"] = str(tmp_path / "brushwork")
    # The trained weights load from the package's models/ and pass their sha256 check.
    check = ("import core.nets.weights as w; assert w.MODELS_DIR == __import__('pathlib').Path(%r); "
             "[w.load(k) for k in w.REGISTRY if w.is_trained(k) and k != 'vgg19']"
             % str(tmp_path / "brushwork" / "models"))
    proc = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    # A bad job spec still gets its one result line: the worker module is there and starts.
    proc = subprocess.run([sys.executable, "-m", "core", "worker"], input="{}", cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    assert last["type"] == "result" and last["status"] == "error", proc.stdout + proc.stderr


def test_installs_and_enables_in_blender(tmp_path):
    proc = run_in_blender("""
        import sys
        import addon_utils
        prefs = bpy.context.preferences
        repo = next(r for r in prefs.extensions.repos if r.module == "user_default")
        report({
            "addons": [a.module for a in prefs.addons],
            "check": list(addon_utils.check(ADDON_MODULE)),
            "addon_imported": "bl_ext.user_default.brushwork.addon" in sys.modules,
            "package_root": str(PACKAGE_ROOT),
            "repo_dir": repo.directory,
            "core_worker": (PACKAGE_ROOT / "core" / "app" / "worker.py").is_file(),
            "training": (PACKAGE_ROOT / "core" / "training" / "learn.py").is_file(),
        })
    """, tmp_path)
    r = proc.result
    assert "bl_ext.user_default.brushwork" in r["addons"], proc.stdout + proc.stderr
    assert r["check"] == [True, True] and r["addon_imported"], proc.stdout + proc.stderr
    # Installed under the redirected user profile, not the real ~/.config/blender.
    assert Path(r["package_root"]) == Path(r["repo_dir"]) / "brushwork"
    assert Path(r["package_root"]).is_relative_to(tmp_path / "blender_user")
    assert r["core_worker"] and r["training"]


def test_install_from_disk_with_enable_on_install(tmp_path):
    """The exact call behind Preferences > Get Extensions > Install from Disk (enable ticked)."""
    script = tmp_path / "install.py"
    script.write_text(f"""
import json, sys
import bpy
result = bpy.ops.extensions.package_install_files(
    filepath={str(extension_zip())!r}, repo="user_default", enable_on_install=True)
print(json.dumps({{"op": sorted(result), "addons": [a.module for a in bpy.context.preferences.addons],
                  "modules": sorted(m for m in sys.modules if m.startswith("bl_ext.user_default.brushwork"))}}))
""")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=blender_environ(tmp_path),
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["op"] == ["FINISHED"]
    assert "bl_ext.user_default.brushwork" in r["addons"]
    assert "bl_ext.user_default.brushwork.addon" in r["modules"]
    assert (tmp_path / "blender_user" / "extensions" / "user_default" / "brushwork" / "core" / "app" / "worker.py").is_file()
