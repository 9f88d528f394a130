"""From the artist's selection to texture jobs: which images, read from where, written where.

One entry per image (two materials sharing a map share its stylized copy); a UDIM set
is one image of several tiles, each tile a file. All of them go to the worker as one
image-set job: pooled, one transformation from the statistics of every map (a brick
wall and the door in it in one palette); with "One look for all" off, each image its
own statistics, though the tiles of a UDIM set still share theirs (a tile seam must not
change colour). Emission maps are light, not paint: they go in a job of their own,
painted as light (black stays black), each with its own statistics.

A map the engine cannot paint (too small, missing, unreadable, linked from a library) is
left out with one line naming it as the artist knows it; the rest are painted. The
engine reads 8-bit PNG and JPEG, and EXR, in every build (the extension's too), so an
image in any other format Blender reads (TGA, BMP, TIFF, WebP, HDR, 16-bit PNG…), or
one Blender holds only in memory (packed, generated, painted and not saved), is first
copied, pixel for pixel, into the job's temp folder as PNG (8-bit) or EXR (float); the
original datablock and file are never written. Results go next to the .blend in
`stylized/`, or into the temp folder for an unsaved .blend, always under a name that
does not exist yet.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import bpy
import numpy as np

from . import jobspec, materials

BYTE_EXTS = {".png", ".jpg", ".jpeg"}   # 8-bit files every build of the engine reads as they are
FLOAT_EXTS = {".exr", ".hdr"}
READABLE = BYTE_EXTS | {".exr"}         # UDIM tiles are read from their files: these formats
TILE_TOKENS = ("<UDIM>", "<UVTILE>")
MIN_SIDE = 32                           # the engine's MIN_CONTENT_SIDE (core/engine/stylizer.py)
MAX_PIXELS = 16384 * 16384              # the engine's MAX_PIXELS (core/media/image_io.py)


@dataclass
class Job:
    image: str                      # the original image datablock's name
    contents: list[str]             # files the worker reads: the image, or its UDIM tiles
    outputs: list[str]              # new files the worker writes, one per content
    uses: list = field(default_factory=list)   # materials.Found keys of the image nodes to relink
    tiles: list[int] = field(default_factory=list)   # a UDIM set's tile numbers ([]: one image)
    emission: bool = True           # every use is an Emission input: painted as light
    materials: list[str] = field(default_factory=list)   # materials whose slider shows the result

    @property
    def content(self) -> str:
        return self.contents[0]

    @property
    def output(self) -> str:
        """The file to load: the first tile of a UDIM set (Blender finds the others)."""
        return self.outputs[0]


@dataclass
class Plan:
    jobs: list[Job]
    skipped: list[str]              # one line per image left alone, and why
    specs: list[dict] = field(default_factory=list)   # worker jobs: one, or one per UDIM set too


def make(context, settings, temp_dir: Path, strength: float | None = None) -> Plan:
    """Plan the jobs for the scope's materials (active, selected objects', whole scene's).

    `temp_dir` is the run's own folder, removed when it ends: copies of in-memory images.
    `strength`: instead of the panel's (Apply Strength).
    """
    jobs: dict[str, Job] = {}
    skipped: dict[str, str] = {}    # image (or linked material) → why, one line each
    out_dir = output_dir()
    taken: set[str] = set()
    for mat in materials.materials_of(context, settings.scope):
        for found in materials.base_color_images(mat, settings.colour_inputs):
            image = found.image
            linked = found.linked
            if linked:
                skipped.setdefault(f"linked:{linked}", f"{image.name} in {linked}")
                continue
            if image.name in skipped:
                continue
            if image.name not in jobs:
                why = _unusable(image)
                if not why:
                    try:
                        jobs[image.name] = _job(image, temp_dir, out_dir, taken)
                    except (RuntimeError, OSError) as e:
                        why = f"could not copy its pixels for the engine ({e})"
                if why:
                    skipped[image.name] = f"{image.name} (in {mat.name}): {why}"
                    continue
            job = jobs[image.name]
            if found.key not in job.uses:
                job.uses.append(found.key)
            if mat.name not in job.materials:
                job.materials.append(mat.name)
            job.emission = job.emission and found.emission
    planned = list(jobs.values())
    return Plan(planned, list(skipped.values()), _specs(settings, planned, strength))


def _job(image, temp_dir: Path, out_dir: Path, taken: set[str]) -> Job:
    if image.source == "TILED":
        tiles = sorted(t.number for t in image.tiles)
        contents = [tile_file(image, n) for n in tiles]
        return Job(image.name, contents, udim_names(out_dir, image.name, contents[0], tiles, taken), tiles=tiles)
    content = _content_file(image, temp_dir)
    return Job(image.name, [content], [new_name(out_dir, image.name, Path(content).suffix, taken)])


def _specs(settings, jobs: list[Job], strength: float | None) -> list[dict]:
    """One worker job for all colour images; without "One look for all", each image's own
    statistics, and each UDIM set a pooled job of its own (its tiles are one image).
    Emission maps (mostly black: they would darken a pooled look) in a job of their own,
    painted as light, each with its own statistics."""
    colour = [j for j in jobs if not j.emission]
    if not colour:
        groups = []
    elif settings.one_look:
        groups = [(colour, True)]
    else:
        singles = [j for j in colour if not j.tiles]
        groups = [([j], True) for j in colour if j.tiles] + ([(singles, False)] if singles else [])
    specs = [jobspec.texture_set(settings, [c for j in group for c in j.contents],
                                 [o for j in group for o in j.outputs], pooled, strength)
             for group, pooled in groups]
    lights = [j for j in jobs if j.emission]
    if lights:
        specs.append(jobspec.texture_set(settings, [c for j in lights for c in j.contents],
                                         [o for j in lights for o in j.outputs], False, strength, emission=True))
    return specs


def map_count(context, settings) -> int:
    """How many maps (a UDIM set's tiles each count) Stylize would paint, for the panel
    (a cheap count: sizes and files are checked when the job is planned)."""
    seen: dict[str, int] = {}
    for mat in materials.materials_of(context, settings.scope):
        for found in materials.base_color_images(mat, settings.colour_inputs):
            image = found.image
            if materials.is_colour(image) and not found.linked:
                seen[image.name] = len(image.tiles) if image.source == "TILED" else 1
    return sum(seen.values())


def _unusable(image) -> str | None:
    if not materials.is_colour(image):
        return f"colour space '{image.colorspace_settings.name}' is data, not colour"
    if image.source == "TILED":
        return _unusable_tiles(image)
    if image.source not in {"FILE", "GENERATED"}:
        return f"a {image.source.lower()} image (stylize renders and videos with the frame tools)"
    if image.source == "FILE" and not image.packed_file and not image.is_dirty:
        path = bpy.path.abspath(image.filepath, library=image.library)
        if not os.path.isfile(path):
            return f"file not found: {path}"
    w, h = image.size   # loads the image: (0, 0) when Blender cannot read it
    if not image.has_data or not w or not h:
        return "Blender cannot read its pixels (a damaged file, or a format it does not know)"
    if min(w, h) < MIN_SIDE:
        return f"{w}×{h} is too small to paint (at least {MIN_SIDE} px per side; a swatch or palette strip)"
    if w * h > MAX_PIXELS:
        return f"{w}×{h} is larger than the engine paints ({MAX_PIXELS // 16384}×16384 pixels at most)"
    return None


def _unusable_tiles(image) -> str | None:
    """A UDIM set is read tile by tile from its files: they must be saved and readable."""
    if image.packed_file or image.packed_files or image.is_dirty:
        return "a packed or unsaved UDIM set: save its tiles to files first (Image > Save)"
    if not any(token in image.filepath for token in TILE_TOKENS):
        return f"UDIM path without a tile token: {image.filepath}"
    for tile in image.tiles:
        path = tile_file(image, tile.number)
        if Path(path).suffix.lower() not in READABLE:
            return f"tile {tile.number}: cannot read {Path(path).suffix} files"
        if not os.path.isfile(path):
            return f"tile {tile.number}: file not found: {path}"
    return None


def tile_file(image, number: int) -> str:
    """The file of tile `number` of a UDIM set (the path's <UDIM> or <UVTILE> filled in)."""
    u, v = (number - 1001) % 10 + 1, (number - 1001) // 10 + 1
    path = bpy.path.abspath(image.filepath, library=image.library)
    return path.replace("<UDIM>", str(number)).replace("<UVTILE>", f"u{u}_v{v}")


def _content_file(image, temp_dir: Path) -> str:
    """A file holding exactly the pixels the artist sees, in a format the engine reads,
    without writing the original."""
    path = bpy.path.abspath(image.filepath, library=image.library) if image.filepath else ""
    ext = Path(path).suffix.lower()
    as_is = ext == ".exr" or (ext in BYTE_EXTS and not image.is_float)   # 16-bit PNG is float in Blender
    if image.source == "FILE" and not image.packed_file and not image.is_dirty and as_is:
        return path
    stem = bpy.path.clean_name(image.name)
    if image.packed_file and not image.is_dirty and as_is:
        copy = temp_dir / f"{stem}.source{ext}"
        copy.write_bytes(image.packed_file.data)
        return str(copy)
    # Any other format, or pixels only Blender holds (painted, generated): copy the pixels.
    copy = temp_dir / f"{stem}.source{'.exr' if image.is_float else '.png'}"
    _save_pixels(image, copy)
    return str(copy)


def _save_pixels(image, path: Path) -> None:
    """Write `image`'s pixels as they are to `path` (PNG for 8-bit, EXR for float) through a
    throw-away datablock: saving the image itself (even as a copy) keeps its own file
    format and, when packed, its packed bytes (a Targa under a .png name)."""
    w, h = image.size
    pixels = np.empty(w * h * 4, np.float32)
    image.pixels.foreach_get(pixels)   # bytes as stored (/255), or the float buffer (linear)
    dup = bpy.data.images.new(f"{image.name}.brushwork-copy", w, h, alpha=True, float_buffer=image.is_float)
    try:
        dup.pixels.foreach_set(pixels)
        dup.filepath_raw = str(path)
        dup.file_format = "OPEN_EXR" if path.suffix == ".exr" else "PNG"
        if path.suffix == ".exr":
            dup.use_half_precision = False
        dup.save()
    finally:
        bpy.data.images.remove(dup)


def downscaled(content: str, temp_dir: Path, side: int) -> tuple[str, tuple[int, int]]:
    """A copy of the file `content` at most `side` px on its long side, in the run's
    `temp_dir` (the file itself when it is no larger), and the file's full size. The
    short side stays at least MIN_SIDE, so a preview paints whatever the full job paints
    (a 2000×40 strip previews at 1600×32, not 512×10)."""
    image = bpy.data.images.load(content, check_existing=False)
    try:
        w, h = image.size
        scale = max(side / max(w, h), MIN_SIDE / min(w, h))
        if scale >= 1:
            return content, (w, h)
        image.scale(max(MIN_SIDE, round(w * scale)), max(MIN_SIDE, round(h * scale)))
        float_data = Path(content).suffix.lower() in FLOAT_EXTS
        copy = temp_dir / f"{Path(content).stem}.preview{'.exr' if float_data else '.png'}"
        image.filepath_raw, image.file_format = str(copy), "OPEN_EXR" if float_data else "PNG"
        image.save()
        return str(copy), (w, h)
    finally:
        bpy.data.images.remove(image)


def wants_relative(original) -> bool:
    """Give a result a path relative to the .blend (moves with the project, to a farm too)
    when the .blend is saved and the original's path is relative, or, for an image with no
    file of its own (packed, generated), when Blender's preference says so."""
    if not bpy.data.filepath:
        return False
    if original.filepath and not original.packed_file:
        return original.filepath.startswith("//")
    return bpy.context.preferences.filepaths.use_relative_paths


def preview_dir() -> Path:
    """Where quick previews go: a temp folder, never beside the .blend (they are throw-away)."""
    return Path(tempfile.gettempdir()) / "brushwork" / "preview"


def output_dir() -> Path:
    """`stylized/` beside the .blend; for an unsaved .blend a temp folder that outlives the run."""
    if bpy.data.filepath:
        return Path(bpy.data.filepath).parent / "stylized"
    return Path(tempfile.gettempdir()) / "brushwork" / "stylized"


def new_name(folder: Path, image_name: str, content_ext: str, taken: set[str], ext: str | None = None) -> str:
    """A file name in `folder` that neither exists nor is planned: `<name>.stylized[.NNN]<ext>`."""
    return _free(folder, image_name, content_ext, taken, ext, [""])[0]


def udim_names(folder: Path, image_name: str, content: str, tiles: list[int], taken: set[str]) -> list[str]:
    """New files for a UDIM set, `<name>.stylized[.NNN].<tile><ext>`, with no file of any
    tile number already under that name (Blender would load it as one more tile)."""
    return _free(folder, image_name, Path(content).suffix, taken, None, [f".{n}" for n in tiles], udim=True)


def _free(folder: Path, image_name: str, content_ext: str, taken: set[str], ext: str | None,
          suffixes: list[str], udim: bool = False) -> list[str]:
    ext = ext or (".exr" if content_ext.lower() in FLOAT_EXTS else ".png")
    stem = Path(image_name).stem if Path(image_name).suffix else image_name
    stem = bpy.path.clean_name(re.sub(r"[._](<UDIM>|<UVTILE>|1\d{3})$", "", stem) if udim else stem)
    for i in range(10000):
        base = f"{stem}.stylized" if i == 0 else f"{stem}.stylized.{i:03d}"
        paths = [str(folder / f"{base}{suffix}{ext}") for suffix in suffixes]
        clash = udim and folder.is_dir() and any(
            re.fullmatch(rf"{re.escape(base)}\.\d{{4}}{re.escape(ext)}", p.name) for p in folder.iterdir())
        if not clash and not any(p in taken or Path(p).exists() for p in paths):
            taken.update(paths)
            return paths
    raise RuntimeError(f"{folder}: no free name for {stem}")


def render_output(name: str, ext: str = ".png") -> tuple[str, list[Path]]:
    """A new file in the output folder (created) for a render, panorama or movie called
    `name`, and the folders made for it (see `make_dirs`)."""
    folder = output_dir()
    made = make_dirs(folder)
    return new_name(folder, name, ext, set(), ext=ext), made


def make_dirs(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; returns those created, deepest first, so a
    run that fails can take them away again (`remove_dirs`)."""
    missing = [p for p in [folder, *folder.parents] if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def remove_dirs(folders: list[Path]) -> None:
    """Remove folders a failed run created, deepest first, unless something else lives there now."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass

