"""Frames → H.264 MP4 with imageio-ffmpeg (it ships its own ffmpeg binary: nothing to install).

yuv420p, the pixel format every player and YouTube accept, needs even sides: an odd
side is padded by one repeated edge pixel rather than resized. Written to a temporary
name and renamed, like every output.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import BrushworkError
from .image_io import read_image


def _rgb8(path: Path) -> np.ndarray:
    pic = read_image(str(path))
    rgb = pic.color if pic.color.shape[2] == 3 else np.repeat(pic.color[..., :1], 3, axis=2)
    if pic.linear:
        from .colour import linear_to_srgb
        rgb = linear_to_srgb(np.clip(rgb, 0, 1))
    h, w = rgb.shape[:2]
    rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_mp4(frames: list[Path], output: str, fps: float = 24.0, quality: int = 18) -> None:
    """Encode `frames` (image files, all the same size) as an MP4 at `fps` (crf `quality`)."""
    import imageio_ffmpeg

    if not frames:
        raise BrushworkError(f"{output}: no frames to encode")
    first = _rgb8(frames[0])
    h, w = first.shape[:2]
    tmp = Path(output).with_name(f".{Path(output).stem}.partial.mp4")
    writer = imageio_ffmpeg.write_frames(str(tmp), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         output_params=["-crf", str(quality)], macro_block_size=1)
    try:
        writer.send(None)
        for i, path in enumerate(frames):
            rgb = first if i == 0 else _rgb8(path)
            if rgb.shape[:2] != (h, w):
                raise BrushworkError(f"{path}: {rgb.shape[1]}×{rgb.shape[0]}, the first frame is {w}×{h}")
            writer.send(np.ascontiguousarray(rgb))
        writer.close()
        os.replace(tmp, output)
    finally:
        writer.close()
        tmp.unlink(missing_ok=True)
