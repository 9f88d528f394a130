"""Fixtures shared by the CLI and worker tests."""
from pathlib import Path

import cv2
import pytest

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def style(tmp_path_factory):
    """The test painting at 64 px wide: small keeps the style pass fast."""
    img = cv2.imread(str(DATA / "painting.jpg"))
    path = tmp_path_factory.mktemp("style") / "painting_small.png"
    cv2.imwrite(str(path), cv2.resize(img, (64, 89), interpolation=cv2.INTER_AREA))
    return str(path)


@pytest.fixture
def out_dir(tmp_path):
    """An empty folder for outputs only, so 'nothing left behind' is os.listdir() == []."""
    d = tmp_path / "out"
    d.mkdir()
    return d
