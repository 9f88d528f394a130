"""The GUI tests' fixtures: Blender 4.3 in a real (Xvfb) window, see scripts/blender_gui.py.

Once per test run: the extension zip is built (tests/blender_env.py), and a background
Blender in the chroot makes a user profile with it installed and the test scene
(setup_profile.py). Each test then gets its own copy of both and runs one scenario
(scenarios.py) in a fresh Blender window. Where the GUI environment cannot be built or
started, every GUI test fails with a one-line reason: a GUI test that did not run must
not pass unseen.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

import blender_env

HERE = Path(__file__).resolve().parent


def _harness():
    spec = importlib.util.spec_from_file_location("blender_gui", blender_env.ROOT / "scripts" / "blender_gui.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


blender_gui = _harness()


@dataclass
class Run:
    """One finished scenario: Blender's exit status and output, its result.json, its folder."""
    returncode: int
    log: str
    result: dict
    out: Path
    scene: Path

    def shot(self, name: str) -> Path:
        return Path(self.result["shots"][name])

    def processes(self) -> str:
        """`ps` in the run's namespace after Blender exited."""
        return (self.out / "ps_after.txt").read_text()


class Gui:
    def __init__(self, base: Path, zip_path: Path):
        self.base, self.zip = base, zip_path
        self.profile, self.scene, self.bare = base / "profile", base / "scene", base / "bare"
        self.layout = base / "layout.json"

    def prepare(self, tmp_path: Path) -> Path:
        """tmp_path/scene: a fresh copy of the test scene (a test may leave it changed)."""
        scene = tmp_path / "scene"
        if not scene.exists():
            shutil.copytree(self.scene, scene)
        return scene

    def run(self, scenario: str, tmp_path: Path, *, timeout: float = 180, bare: bool = False) -> Run:
        """Blender on tmp_path/scene/scene.blend running `scenario`; the profile is a copy
        (hard links for the installed extension, which no test writes), or with `bare`
        one without Brushwork."""
        scene = self.prepare(tmp_path)
        out = tmp_path / f"{scenario}.out"
        profile = tmp_path / ("bare" if bare else "profile")
        if bare and not profile.exists():
            shutil.copytree(self.bare, profile)
        elif not profile.exists():
            shutil.copytree(self.profile, profile, copy_function=os.link, ignore=shutil.ignore_patterns("config"))
            shutil.copytree(self.profile / "config", profile / "config")
        os.environ["BRUSHWORK_GUI_LAYOUT"] = str(self.layout)
        os.environ["BRUSHWORK_GUI_ZIP"] = str(self.zip)
        try:
            done = blender_gui.run(HERE / "scenarios.py", out, blend=scene / "scene.blend", args=[scenario],
                                   profile=profile, timeout=timeout, screen="1600x1200x24")
        except blender_gui.GuiError as e:
            pytest.fail(f"GUI environment: {e}", pytrace=False)
        finally:
            os.environ.pop("BRUSHWORK_GUI_LAYOUT", None)
            os.environ.pop("BRUSHWORK_GUI_ZIP", None)
        result_file = out / "result.json"
        result = json.loads(result_file.read_text()) if result_file.is_file() else {}
        if not result:
            pytest.fail(f"{scenario}: no result (Blender exited {done.returncode}); log tail:\n{done.stdout[-3000:]}")
        if result.get("status") == "error":
            pytest.fail(f"{scenario} failed in Blender:\n{result.get('error')}\nlog: {out / 'blender.log'}")
        return Run(done.returncode, done.stdout, result, out, scene)


@pytest.fixture(scope="session")
def gui_env(tmp_path_factory) -> Gui:
    problem = blender_gui.ready()
    if problem and os.geteuid() == 0:   # a fresh machine: the README's test command builds it once
        try:
            blender_gui.build()
            problem = blender_gui.ready()
        except blender_gui.GuiError as e:
            problem = f"{problem}; building it failed: {e}"
    if problem:
        pytest.fail(f"GUI environment: {problem} (as root: python3 scripts/blender_gui.py build)", pytrace=False)
    base = tmp_path_factory.mktemp("gui")
    zip_path = blender_env.extension_zip()
    try:
        done = blender_gui.run(HERE / "setup_profile.py", base / "setup", args=[str(zip_path), str(base / "scene"), str(base / "bare")],
                               profile=base / "profile", background=True, timeout=300)
    except blender_gui.GuiError as e:
        pytest.fail(f"GUI environment: {e}", pytrace=False)
    if done.returncode or not (base / "scene" / "scene.blend").is_file():
        pytest.fail(f"GUI environment: the profile setup exited {done.returncode}: {done.stdout[-2000:]}")
    return Gui(base, zip_path)
