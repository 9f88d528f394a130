"""Pixels in and out: image files (`image_io`), colour spaces (`colour`), MP4 via ffmpeg
(`video`), spherical-video metadata (`spherical`) and telling colour maps from data
maps (`maptype`).
"""
