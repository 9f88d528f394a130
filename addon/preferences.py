"""Which Python runs Brushwork's worker, and with what.

Out of the box, Blender's own Python runs it with the extension's bundled wheels
(onnxruntime, Pillow) on its path: no torch, no download. PyTorch is an optional
accelerator (CUDA), far too large to ship: "Install Dependencies" puts it into a
per-user folder (only when Blender may go online), or the artist points Brushwork at a
Python that already has it. "Check" runs `python -m core check` in the chosen Python
and says which backend and device a job will use.
"""
from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import bpy
from bpy.props import EnumProperty, StringProperty

from .worker_client import PythonSetup

ROOT = __package__.rpartition(".")[0] or __package__   # the extension's module: prefs are keyed by it
# What the worker needs beside Blender's Python (kept equal to requirements.txt by a test).
REQUIREMENTS = ["torch==2.13.0", "numpy>=1.26,<2", "pillow==13.0.0", "onnxruntime==1.32.0", "safetensors==0.8.0",
                "opencv-python-headless==4.11.0.86", "OpenEXR==3.5.3",
                "imageio-ffmpeg==0.8.1"]
TORCH_INDEX = {"CPU": "https://download.pytorch.org/whl/cpu",
               "CUDA": "https://download.pytorch.org/whl/cu128"}

_state = {"installing": False, "message": "", "check": ""}  # shown in the preferences


def deps_dir() -> Path:
    """The per-user folder the dependencies are installed into (survives extension updates)."""
    try:
        return Path(bpy.utils.extension_path_user(ROOT, path="deps", create=True))
    except (ValueError, AttributeError):  # not running as an extension (e.g. a legacy add-on install)
        return Path(bpy.utils.user_resource("SCRIPTS", path="brushwork_deps", create=True))


def get(context=None):
    addon = (context or bpy.context).preferences.addons.get(ROOT)
    return addon.preferences if addon else None


def wheels_dir() -> Path:
    """Where Blender installed the extension's bundled wheels (onnxruntime, Pillow)."""
    version = "python{}.{}".format(*sys.version_info[:2])
    return Path(bpy.utils.user_resource("EXTENSIONS")) / ".local" / "lib" / version / "site-packages"


def python_setup(context=None) -> PythonSetup:
    """The Python the worker runs in, as the preferences say: Blender's own with the
    installed dependencies (torch, if any) and the bundled wheels, or the artist's own."""
    prefs = get(context)
    env = {"BRUSHWORK_LEARNED": str(learned_dir())}   # the project's learned paintings, a farm's too
    if prefs and prefs.python_source == "CUSTOM" and prefs.python_path:
        return PythonSetup(bpy.path.abspath(prefs.python_path), [], env)
    return PythonSetup(sys.executable, [str(deps_dir()), str(wheels_dir())], env)


def learned_dir() -> Path:
    """Where Learn This Painting keeps what it learned and every job looks for it:
    `stylized/learned/` beside a saved .blend (it travels with the project, to a render
    farm too), else the per-user cache of `brushwork learn`."""
    if bpy.data.filepath:
        return Path(bpy.data.filepath).parent / "stylized" / "learned"
    from ..core.nets.learned import cache_dir
    return cache_dir()


def pip_command(build: str, target: Path) -> list[str]:
    return [sys.executable, "-m", "pip", "install", "--upgrade", "--target", str(target),
            "--extra-index-url", TORCH_INDEX[build], *REQUIREMENTS]


class BRUSHWORK_OT_install_dependencies(bpy.types.Operator):
    """Install PyTorch (an optional accelerator) and Brushwork's other dependencies into a per-user folder (needs Online Access)"""
    bl_idname = "brushwork.install_dependencies"
    bl_label = "Install Dependencies"

    build: EnumProperty(name="Build", items=[("CPU", "CPU", "Runs everywhere (about 200 MB)"),
                                             ("CUDA", "CUDA", "NVIDIA GPUs (about 3 GB)")])

    @classmethod
    def poll(cls, context):
        if not bpy.app.online_access:
            cls.poll_message_set("Allow Online Access (Preferences > System > Network) to download PyTorch")
            return False
        return not _state["installing"]

    def execute(self, context):
        cmd = pip_command(self.build, deps_dir())
        if bpy.app.background:
            _install(cmd)
            level = {"ERROR"} if _state["message"].startswith("Failed") else {"INFO"}
            self.report(level, _state["message"])
            return {"FINISHED"}
        threading.Thread(target=_install, args=(cmd,), daemon=True).start()
        bpy.app.timers.register(_redraw_while_installing, first_interval=1.0)
        self.report({"INFO"}, "Installing dependencies in the background…")
        return {"FINISHED"}


def _install(cmd: list[str]) -> None:
    _state.update(installing=True, message="Installing… (this downloads PyTorch)")
    try:
        subprocess.run([sys.executable, "-m", "ensurepip", "--upgrade"], capture_output=True)
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            tail = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
            _state["message"] = f"Failed: {tail}"
        else:
            _state["message"] = "Installed. Press Check to confirm."
    except OSError as e:
        _state["message"] = f"Failed: {e}"
    finally:
        _state["installing"] = False


def _redraw_while_installing():
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "PREFERENCES":
                area.tag_redraw()
    return 1.0 if _state["installing"] else None


class BRUSHWORK_OT_check_setup(bpy.types.Operator):
    """Run Brushwork's engine in the chosen Python and report what it finds"""
    bl_idname = "brushwork.check_setup"
    bl_label = "Check"

    def execute(self, context):
        info = python_setup(context).check()
        _state["check"] = describe(info)
        self.report({"ERROR"} if "error" in info else {"INFO"}, _state["check"])
        return {"CANCELLED"} if "error" in info else {"FINISHED"}


def describe(info: dict) -> str:
    """One line for the artist from `python -m core check`'s JSON."""
    if "error" in info:
        return f"Not ready: {info['error']}"
    trained = ", ".join(m for m, ok in info.get("methods", {}).items() if ok) or "none"
    if info.get("backend") == "onnx":
        engine = f"onnxruntime {info['onnxruntime']} on {_DEVICE_NAMES.get(info['device'], info['device'])}"
    else:
        engine = f"torch {info['torch']} on " + (f"GPU {info['gpu']}" if info.get("cuda") else "CPU")
    return f"Ready: Python {info['python']}, {engine}; trained methods: {trained}"


_DEVICE_NAMES = {"cpu": "CPU", "coreml": "CoreML (Apple GPU/Neural Engine)", "dml": "DirectML GPU",
                 "cuda": "CUDA GPU"}


class BrushworkPreferences(bpy.types.AddonPreferences):
    bl_idname = ROOT

    python_source: EnumProperty(
        name="Python", default="BLENDER",
        items=[("BLENDER", "Blender (bundled onnxruntime)",
                "Blender's own Python with the bundled onnxruntime; PyTorch too if installed below"),
               ("CUSTOM", "Existing Python with torch", "A Python interpreter that already has PyTorch")])
    python_path: StringProperty(name="Python Executable", subtype="FILE_PATH",
                                description="e.g. /usr/bin/python3 or C:\\Python311\\python.exe, with torch installed")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "python_source", expand=True)
        if self.python_source == "CUSTOM":
            layout.prop(self, "python_path")
        else:
            row = layout.row()
            row.operator(BRUSHWORK_OT_install_dependencies.bl_idname, text="Install (CPU)").build = "CPU"
            row.operator(BRUSHWORK_OT_install_dependencies.bl_idname, text="Install (CUDA)").build = "CUDA"
            layout.label(text=f"Folder: {deps_dir()}")
            if not bpy.app.online_access:
                layout.label(text="Online access is off: allow it in System > Network to install", icon="INFO")
            if _state["message"]:
                layout.label(text=_state["message"], icon="TIME" if _state["installing"] else "INFO")
        layout.operator(BRUSHWORK_OT_check_setup.bl_idname, icon="CHECKMARK")
        if _state["check"]:
            layout.label(text=_state["check"], icon="ERROR" if _state["check"].startswith("Not") else "CHECKMARK")


CLASSES = (BRUSHWORK_OT_install_dependencies, BRUSHWORK_OT_check_setup, BrushworkPreferences)


register, unregister = bpy.utils.register_classes_factory(CLASSES)
