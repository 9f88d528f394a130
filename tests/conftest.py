"""Fixtures shared by the CLI and worker tests."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

DATA = Path(__file__).resolve().parent / "data"


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
