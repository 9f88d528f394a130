"""Fixtures shared by the CLI and worker tests."""
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

DATA = Path(__file__).resolve().parent / "data"

# Tests run fp32 on every CPU (and their child processes with them): `--precision auto`
# takes bf16 where a CPU runs it faster (core/backends/torch/backend.py), which would make
# their tolerances depend on the machine. tests/test_engine.py checks that choice itself.
os.environ.setdefault("BRUSHWORK_CPU_BF16", "0")


@pytest.fixture(scope="module")
def style(tmp_path_factory):
    """The test painting at 64 px wide: small keeps the style pass fast."""
    from core.media.image_io import read_image
    from core.engine.resample import resize
    small = resize(read_image(str(DATA / "painting.jpg")).color, (89, 64))  # area-averaged
    path = tmp_path_factory.mktemp("style") / "painting_small.png"
    Image.fromarray(np.round(np.clip(small, 0, 1) * 255).astype(np.uint8)).save(path)
    return str(path)


@pytest.fixture
def out_dir(tmp_path):
    """An empty folder for outputs only, so 'nothing left behind' is os.listdir() == []."""
    d = tmp_path / "out"
    d.mkdir()
    return d


# Tests that start Blender, a GUI, many real processes or a wheel build: `slow`, so the
# edit-test loop can leave them out (`python -m pytest -m "not slow"`); CI runs everything.
SLOW_MODULES = {"test_addon", "test_addon_gallery", "test_addon_movie", "test_addon_render", "test_addon_sets",
                "test_addon_scenes", "test_addon_learn", "test_build_extension", "test_extension_onnx", "test_training"}
SLOW_TESTS = {"test_a_wheel_installed_into_a_folder_paints_from_anywhere", "test_the_panels_limits_and_defaults_are_the_schemas",
              "test_fuzz_real_processes", "test_fuzz_sets_stopped_midway_leave_nothing", "test_fuzz_video",
              "test_fuzz_frames", "test_training_configs_that_cannot_run_are_one_line"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in SLOW_MODULES or item.originalname in SLOW_TESTS or "/gui/" in str(item.path):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session", autouse=True)
def _no_learned_paintings(tmp_path_factory):
    """Jobs use what `brushwork learn` learned for their painting (core/nets/learned.py):
    every test starts from an empty cache of its own, not the user's."""
    import os
    saved = os.environ.get("BRUSHWORK_LEARNED")
    os.environ["BRUSHWORK_LEARNED"] = str(tmp_path_factory.mktemp("learned"))
    yield
    if saved is None:
        os.environ.pop("BRUSHWORK_LEARNED", None)
    else:
        os.environ["BRUSHWORK_LEARNED"] = saved
