"""Test pictures made on the spot: small, deterministic, photo-like (not white noise)."""
import numpy as np

from core.media.image_io import Picture, write_image


def photo(h, w, seed=0):
    """Smooth gradients, a hard-edged block and a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    img = np.stack([0.5 + 0.4 * np.sin(6 * x + 2 * y), 0.5 + 0.3 * np.cos(5 * y), 0.3 + 0.4 * x * y], -1)
    img[h // 3: h // 2, w // 4: w // 2] = [0.9, 0.2, 0.1]
    return np.clip(img + rng.normal(0, 0.03, img.shape), 0, 1).astype(np.float32)


def save(path, pixels, dtype=np.uint8, linear=False):
    write_image(path, Picture(np.asarray(pixels, np.float32), dtype, linear))
    return str(path)
