"""The engine as a package: importable under any name (relative imports), installed as
`brushwork` with its networks inside, so `pip install .`, `--target DIR` and a wheel all
run `brushwork stylize` from any folder."""
import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "core"


def test_pyproject_installs_every_engine_package_as_brushwork():
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert tool["package-dir"] == {"brushwork": "core", "brushwork.models": "models"}
    here = {".".join(("brushwork", *p.parent.relative_to(CORE).parts)) for p in CORE.rglob("__init__.py")}
    assert set(tool["packages"]) == here | {"brushwork.models"}


def test_no_engine_module_imports_core_by_name():
    """Inside core/ every import of the engine is relative: `core.` does not resolve where
    the engine is installed as `brushwork` or inside the Blender extension."""
    absolute = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            absolute += [f"{path.relative_to(ROOT)}:{node.lineno}" for n in names if n == "core" or n.startswith("core.")]
    assert absolute == []


def test_a_wheel_installed_into_a_folder_paints_from_anywhere(tmp_path):
    """`pip install --target DIR` (how Blender add-ons and farms vendor packages): the
    networks come along as package data and are found there, from another folder."""
    wheels, target, elsewhere = tmp_path / "wheels", tmp_path / "target", tmp_path / "elsewhere"
    elsewhere.mkdir()
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", str(ROOT), "-w", str(wheels)],
                   check=True, cwd=tmp_path, timeout=600)
    wheel = next(wheels.glob("brushwork-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, timeout=600)
    env = {k: v for k, v in os.environ.items() if k != "BRUSHWORK_MODELS"} | {"PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import brushwork, brushwork.nets.weights as w; "
                            "print(brushwork.__file__); print(w.MODELS_DIR)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    package, models = where.stdout.split()
    assert Path(package).parent == target / "brushwork" and Path(models) == target / "brushwork" / "models"
    out = elsewhere / "painted.png"
    done = subprocess.run([sys.executable, "-m", "brushwork", "stylize", str(ROOT / "tests" / "data" / "photo.jpg"),
                           "monet-cliff-walk", "-o", str(out), "--quiet"],
                          cwd=elsewhere, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert out.is_file()
