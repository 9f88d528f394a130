"""Frames → H.264 MP4, and movie files in and out, with imageio-ffmpeg (it ships its own
ffmpeg binary: nothing to install).

yuv420p, the pixel format every player and YouTube accept, needs even sides: for frames
an odd side is padded by one repeated edge pixel rather than resized; a movie keeps its
exact odd size as 4:4:4 (MovieWriter). Written to a temporary name and renamed, like
every output.
"""
from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from ..errors import BrushworkError, check_number
from ..media import chatter
from ..media.image_io import place, read_image

MAX_FPS = 1000


def check_fps(fps) -> float:
    """A frame rate ffmpeg can encode: finite, above 0, at most MAX_FPS."""
    return float(check_number("fps", fps, lambda v: 0 < v <= MAX_FPS, f"must be above 0 and at most {MAX_FPS}"))


def _partial(output: Path, part: str = "partial") -> Path:
    """A hidden temp name beside `output`, unique so two jobs never share one."""
    return output.with_name(f".{output.stem}.{secrets.token_hex(4)}.{part}.mp4")


def _into_place(tmp: Path, output: str, overwrite: bool) -> None:
    try:
        place(tmp, output, overwrite, output)
    except OSError as e:
        raise BrushworkError(f"{output}: cannot write ({e.strerror or e})") from None


def _ffmpeg_failed(output, log: chatter.Capture) -> BrushworkError:
    full = disk_full(output)
    if full:
        return BrushworkError(f"{output}: cannot write the movie: {full}; nothing was written")
    return BrushworkError(f"{output}: ffmpeg could not write the movie{chatter.summary(log, 'ffmpeg')}")


def disk_full(output) -> str | None:
    """"the disk holding F is full" when the output's folder has (almost) no space left:
    what a failed write means then, whatever ffmpeg or a half-written file says instead."""
    import shutil

    folder = Path(output).parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    return f"the disk holding {folder} is full ({free:,} bytes free)" if free < 1 << 20 else None


def _rgb8(path: Path) -> np.ndarray:
    pic = read_image(str(path))
    rgb = pic.color if pic.color.shape[2] == 3 else np.repeat(pic.color[..., :1], 3, axis=2)
    if pic.linear:
        from ..media.colour import linear_to_srgb
        rgb = linear_to_srgb(np.clip(rgb, 0, 1))
    h, w = rgb.shape[:2]
    rgb = np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def write_mp4(frames: list[Path], output: str, fps: float = 24.0, quality: int = 18, *,
              overwrite: bool = False, finish=None) -> None:
    """Encode `frames` (image files, all the same size) as an MP4 at `fps` (crf `quality`).

    `finish(path)` runs on the finished temp file before it is moved into place (the 360°
    metadata), so a failing last step leaves nothing at `output`; a file there is replaced
    only with `overwrite`. ffmpeg's own lines end up in our one error line."""
    import imageio_ffmpeg

    fps = check_fps(fps)
    if not frames:
        raise BrushworkError(f"{output}: no frames to encode")
    first = _rgb8(frames[0])
    h, w = first.shape[:2]
    tmp = _partial(Path(output))
    writer = imageio_ffmpeg.write_frames(str(tmp), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         output_params=["-crf", str(quality)], macro_block_size=1,
                                         ffmpeg_log_level="error")
    log = None
    try:
        with chatter.captured(keep=True) as log:  # ffmpeg, started here, keeps it as its stderr
            writer.send(None)
        for i, path in enumerate(frames):
            rgb = first if i == 0 else _rgb8(path)
            if rgb.shape[:2] != (h, w):
                raise BrushworkError(f"{path}: {rgb.shape[1]}×{rgb.shape[0]}, the first frame is {w}×{h}")
            writer.send(np.ascontiguousarray(rgb))
        writer.close()
        if finish is not None:
            try:
                finish(str(tmp))
            except BrushworkError:
                if disk_full(output):   # ffmpeg ended "fine" on a full disk: a truncated file
                    raise _ffmpeg_failed(output, log) from None
                raise
        _into_place(tmp, output, overwrite)
    except (OSError, RuntimeError) as e:
        raise (_ffmpeg_failed(output, log) if log is not None else BrushworkError(f"{output}: cannot write ({e})")) \
            from None
    finally:
        try:
            writer.close()
        except (OSError, RuntimeError):  # ffmpeg already gone: the temp file goes either way
            pass
        tmp.unlink(missing_ok=True)
        if log is not None:
            log.close()


# --------------------------------------------------------------------------- movie files in and out
#
# A movie is read and written as a stream through two ffmpeg processes, one frame in
# memory at a time, so a long clip costs time, not memory. What the source's header says
# (`ffmpeg -i`, parsed below) decides how it is decoded: its exact frame rate, pixel
# aspect, colour matrix, and whether it is 10-bit, HDR or variable-rate.

HDR_TRANSFERS = {"smpte2084": "HDR10/PQ", "arib-std-b67": "HLG"}
# HDR → SDR Rec.709 before the networks, which were trained on SDR photographs.
TONEMAP = ("zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,"
           "zscale=t=bt709:m=bt709:r=tv,format=yuv420p")


@dataclass
class Source:
    """What `ffmpeg -i` says about a movie's first video stream (and whether it has sound)."""
    path: str
    width: int
    height: int
    fps: Fraction              # the constant rate frames are decoded and written at
    duration: float            # seconds
    pix_fmt: str               # e.g. yuv420p, yuv420p10le
    bits: int                  # per colour sample: 8, 10, 12
    colour: tuple              # (matrix, primaries, transfer) tags, None where untagged
    hdr: str | None            # "HDR10/PQ" or "HLG" when the transfer function says so
    sar: tuple[int, int]       # pixel aspect (width:height of one pixel)
    variable_rate: bool        # the average rate differs from the base rate
    audio: str | None          # codec of the first audio stream
    rotation: int = 0          # display rotation the decoder applies (phones film sideways)


def _exact_rate(text: str) -> Fraction:
    """ffmpeg prints 29.97 for 30000/1001: give back the NTSC fraction it rounds."""
    value = float(text[:-1]) * 1000 if text.endswith("k") else float(text)
    ntsc = value * 1.001
    if abs(ntsc - round(ntsc)) < 0.006 and abs(value - round(value)) > 0.005:
        return Fraction(round(ntsc) * 1000, 1001)
    return Fraction(value).limit_denominator(1001)


def probe(path: str) -> Source:
    """The source's video stream, or one line that says why it can't be stylized."""
    import subprocess
    import imageio_ffmpeg

    if not Path(path).is_file():
        raise BrushworkError(f"{path}: no such file")
    text = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", path],
                          capture_output=True, text=True, errors="replace").stderr
    if "Input #0" not in text:
        raise BrushworkError(f"{path}: not a video file ffmpeg can read")
    container = re.search(r"Input #0, ([\w,]+?), from", text)
    if container and (container[1] == "image2" or container[1].endswith("_pipe")):
        raise BrushworkError(f"{path}: a still image, not a movie; paint it with `brushwork stylize`")
    videos = [ln for ln in text.splitlines() if re.search(r"Stream #\S+: Video: ", ln) and "attached pic" not in ln]
    if not videos:
        raise BrushworkError(f"{path}: no video stream (sound only?)")
    line = videos[0]
    fields = re.split(r",\s*(?![^()]*\))", line.split("Video: ", 1)[1])
    fmt = re.match(r"(\w+)(?:\((.*)\))?", fields[1].strip())
    pix_fmt, tags = fmt[1], (fmt[2] or "")
    size = re.search(r", (\d+)x(\d+)", line)
    rates = dict((unit, num) for num, unit in re.findall(r"([\d.]+k?) (fps|tbr)", line))
    if not size or not rates:
        raise BrushworkError(f"{path}: no frame size or frame rate in its video stream (a still image?)")
    found = next((t.strip().split("/") for t in tags.split(",") if t.count("/") == 2), [None] * 3)
    colour_tags = tuple(None if t in (None, "unknown", "reserved", "unspecified") else t for t in found)
    bits = int(m[1]) if (m := re.search(r"p(\d+)(le|be)$", pix_fmt)) else 8
    sar = re.search(r"\[SAR (\d+):(\d+) DAR", line)
    avg = _exact_rate(rates.get("fps") or rates["tbr"])
    base = _exact_rate(rates.get("tbr") or rates["fps"])
    variable = abs(avg - base) > avg * Fraction(1, 1000)
    if variable:   # decode at the base rate (every frame kept) unless it is a timescale, not a rate
        avg = base if avg < base <= 120 else avg
    turn = re.search(r"rotation of (-?[\d.]+) degrees", text)
    rotation = round(float(turn[1])) % 360 if turn else 0
    aspect = (int(sar[1]), int(sar[2])) if sar and int(sar[1]) > 0 else (1, 1)
    if rotation in (90, 270):   # ffmpeg turns the pixels upright: the pixel aspect turns with them
        aspect = aspect[::-1]
    dur = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
    audio = re.search(r"Stream #\S+: Audio: (\w+)", text)
    return Source(path, int(size[1]), int(size[2]), avg,
                  int(dur[1]) * 3600 + int(dur[2]) * 60 + float(dur[3]) if dur else 0.0,
                  pix_fmt, bits, colour_tags, HDR_TRANSFERS.get(colour_tags[2] or ""),
                  aspect, variable, audio[1] if audio else None, rotation)


def _decode_params(src: Source, start: float, seconds: float | None) -> tuple[list[str], list[str]]:
    """ffmpeg input and output options: the range, HDR tone-mapping, constant frame rate."""
    inp = ["-ss", f"{start:.6f}"] if start > 0 else []
    if seconds is not None:
        inp += ["-t", f"{seconds:.6f}"]
    out = ["-map", "0:v:0", "-fps_mode", "cfr", "-r", str(src.fps)]
    if src.hdr:
        out += ["-vf", TONEMAP]
    return inp, out


def read_movie(src: Source, start: float = 0.0, seconds: float | None = None) -> Iterator[np.ndarray]:
    """The frames of [start, start + seconds) as (H, W, 3) uint8 sRGB, one at a time."""
    import imageio_ffmpeg

    inp, out = _decode_params(src, start, seconds)
    # A rotated source decodes upright, which imageio-ffmpeg logs as a size mismatch: expected here.
    logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)
    frames = imageio_ffmpeg.read_frames(src.path, input_params=inp, output_params=out)
    try:
        w, h = next(frames)["size"]
        for raw in frames:
            yield np.frombuffer(raw, np.uint8).reshape(h, w, 3)
    except (RuntimeError, OSError, StopIteration) as e:  # a damaged file ffmpeg gives up on midway
        said = [ln.strip() for ln in str(e).splitlines() if ln.strip() and not ln.startswith("=")]
        raise BrushworkError(f"{src.path}: ffmpeg could not decode the movie"
                             f"{f' (ffmpeg: {said[-1][:160]})' if said else ''}") from None
    finally:
        frames.close()


def movie_frame(src: Source, at: float) -> np.ndarray | None:
    """The frame shown at `at` seconds (None past the end): for sampling statistics."""
    return next(read_movie(src, at, 1.5 / float(src.fps)), None)


class MovieWriter:
    """Frames → H.264 at the source's rate, size, pixel aspect and colour matrix, then the
    source's sound copied unchanged beside it; appears at `output` only when complete.

    yuv420p halves the chroma and so needs even sides; an odd-sized source is written
    as yuv444p (High 4:4:4 profile), which keeps every pixel of its exact size."""

    def __init__(self, output: str, src: Source, size: tuple[int, int], start: float = 0.0,
                 seconds: float | None = None, quality: int = 18, overwrite: bool = False):
        import imageio_ffmpeg

        self.output, self.src, self.start, self.seconds = Path(output), src, start, seconds
        self.size, self.overwrite = size, overwrite
        self.video_tmp = _partial(self.output, "video")
        self.muxed_tmp = _partial(self.output)
        w, h = size
        # Tagged like the source (what the decode to RGB assumed; untagged: BT.601, ffmpeg's default).
        matrix, primaries, transfer = ("bt709",) * 3 if src.hdr else src.colour
        params = ["-crf", str(quality), "-vf", f"scale=out_color_matrix={_SWSCALE.get(matrix, 'bt601')}:"
                  f"out_range=tv,setsar={src.sar[0]}/{src.sar[1]}"]
        for option, tag in (("-colorspace", matrix), ("-color_primaries", primaries), ("-color_trc", transfer)):
            params += [option, tag] if tag else []
        self.writer = imageio_ffmpeg.write_frames(
            str(self.video_tmp), (w, h), fps=src.fps, codec="libx264",
            pix_fmt_out="yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p",
            output_params=params, macro_block_size=1, ffmpeg_log_level="error")
        self.frames = 0
        with chatter.captured(keep=True) as self.log:  # ffmpeg's complaints, for our one line
            self._send(None)

    def write(self, rgb: np.ndarray) -> None:
        """One frame: (H, W, 3) sRGB in [0, 1] or uint8."""
        if rgb.dtype != np.uint8:
            rgb = (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
        self._send(np.ascontiguousarray(rgb))
        self.frames += 1

    def _send(self, frame) -> None:
        try:
            self.writer.send(frame)
        except (OSError, RuntimeError):
            raise _ffmpeg_failed(self.output, self.log) from None

    def finish(self) -> None:
        """Close the stream, add the sound, and move the result into place."""
        import subprocess
        import imageio_ffmpeg

        try:
            self.writer.close()
        except (OSError, RuntimeError):
            raise _ffmpeg_failed(self.output, self.log) from None
        if not self.frames:
            raise BrushworkError(f"{self.src.path}: no frames in the chosen range")
        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
        rng = (["-ss", f"{self.start:.6f}"] if self.start > 0 else []) + \
              (["-t", f"{self.seconds:.6f}"] if self.seconds is not None else [])
        base = [ffmpeg, "-hide_banner", "-v", "error", "-y", "-i", str(self.video_tmp)]
        if self.src.audio:
            base += [*rng, "-i", self.src.path, "-map", "0:v:0", "-map", "1:a"]
        else:
            base += ["-map", "0:v:0"]
        tail = ["-c:v", "copy", "-movflags", "+faststart", "-f", "mp4", str(self.muxed_tmp)]
        done = subprocess.run(base + ["-c:a", "copy"] + tail, capture_output=True, text=True)
        if done.returncode != 0 and self.src.audio:
            # MP4 cannot hold every codec a .mov/.mkv/.avi carries (PCM, Vorbis, …): AAC then.
            from ..errors import warn
            warn(f"{self.src.path}: its {self.src.audio} sound cannot go into an MP4 as is; re-encoded as AAC")
            done = subprocess.run(base + ["-c:a", "aac", "-b:a", "192k"] + tail, capture_output=True, text=True)
        if done.returncode != 0:
            if disk_full(self.output):
                raise _ffmpeg_failed(self.output, self.log)
            raise BrushworkError(f"{self.output}: ffmpeg could not write the movie: "
                                 f"{(done.stderr.strip().splitlines() or ['?'])[-1]}")
        _into_place(self.muxed_tmp, str(self.output), self.overwrite)
        self.video_tmp.unlink(missing_ok=True)
        self.log.close()

    def discard(self) -> None:
        """Stop and remove everything written (cancel or error)."""
        try:
            self.writer.close()
        except Exception:  # ffmpeg may already be gone; the files go either way
            pass
        for tmp in (self.video_tmp, self.muxed_tmp):
            tmp.unlink(missing_ok=True)
        self.log.close()


_SWSCALE = {"bt709": "bt709", "smpte170m": "bt601", "bt470bg": "bt470", "bt2020nc": "bt2020",
            "fcc": "fcc", "smpte240m": "smpte240m"}  # colourspace tag → swscale's name for its matrix
