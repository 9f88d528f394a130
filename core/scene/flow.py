"""Motion of filmed footage, estimated: OpenCV's DIS optical flow in core/scene/motion.py's terms.

A render knows its motion exactly (the Vector pass); footage does not. DIS (Kroeger et
al. 2016, "Fast optical flow using dense inverse search") estimates it between two
consecutive *content* frames, never the stylized ones, whose painted texture would be
mistaken for motion. Both directions are estimated, so motion.valid_mask can apply the
same forward/backward consistency test that finds occlusions in renders: where the two
disagree (a surface appeared, or the estimate is unsure), the frame keeps its own
stylization instead of smearing the previous one over it.
"""
from __future__ import annotations

import cv2
import numpy as np


class Flow:
    """Backward and forward flow between consecutive frames, (d_row, d_col) per pixel."""

    def __init__(self, preset: int = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM):
        self.dis = cv2.DISOpticalFlow_create(preset)

    def _gray(self, rgb: np.ndarray) -> np.ndarray:
        return cv2.cvtColor((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2GRAY)

    def between(self, prev_rgb: np.ndarray, cur_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(back, prev_forward): where each pixel of the current frame was in the previous
        one, and where each pixel of the previous frame went; what motion.valid_mask takes."""
        a, b = self._gray(prev_rgb), self._gray(cur_rgb)
        back = self.dis.calc(b, a, None)          # OpenCV: I0(x) ≈ I1(x + flow), flow as (dx, dy)
        forward = self.dis.calc(a, b, None)
        return back[..., ::-1].copy(), forward[..., ::-1].copy()

    def steady_mask(self, prev_rgb: np.ndarray, cur_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(back, valid): the backward flow and the pixels it can be trusted on."""
        from ..scene import motion
        back, prev_forward = self.between(prev_rgb, cur_rgb)
        return back, motion.valid_mask(back, prev_forward)
