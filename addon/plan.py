"""From the artist's selection to texture jobs: which images, read from where, written where.

One entry per image (two materials sharing a map share its stylized copy); a UDIM set
is one image of several tiles, each tile a file. All of them go to the worker as one
image-set job: pooled, one transformation from the statistics of every map (a brick
wall and the door in it in one palette); with "One look for all" off, each image its
own statistics, though the tiles of a UDIM set still share theirs (a tile seam must not
change colour). The engine reads files, so an image Blender holds only in memory
(packed, generated, painted and not saved) is first saved as a copy in the job's temp
folder; the original datablock and file are never written. Results go next to the
.blend in `stylized/`, or into the temp folder for an unsaved .blend, always under a
name that does not exist yet.
"""
from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from . import jobspec, materials

READABLE = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr"}  # what the engine reads
FLOAT_EXTS = {".exr", ".hdr"}
TILE_TOKENS = ("<UDIM>", "<UVTILE>")


@dataclass
class Job:
    image: str                      # the original image datablock's name
    contents: list[str]             # files the worker reads: the image, or its UDIM tiles
    outputs: list[str]              # new files the worker writes, one per content
    uses: list = field(default_factory=list)   # (material name, image node name) to relink
    tiles: list[int] = field(default_factory=list)   # a UDIM set's tile numbers ([]: one image)

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
    skipped: list[str] = []
    out_dir = output_dir()
    taken: set[str] = set()
    for mat in materials.materials_of(context, settings.scope):
        for found in materials.base_color_images(mat, settings.colour_inputs):
            image = found.image
            if image.name in jobs:
                jobs[image.name].uses.append((mat.name, found.node.name))
                continue
            why = _unusable(image)
            if why:
                skipped.append(f"{mat.name}: {image.name}: {why}")
                continue
            try:
                job = _job(image, temp_dir, out_dir, taken)
            except (RuntimeError, OSError) as e:
                skipped.append(f"{mat.name}: {image.name}: could not read its pixels ({e})")
                continue
            job.uses.append((mat.name, found.node.name))
            jobs[image.name] = job
    return Plan(list(jobs.values()), skipped, _specs(settings, list(jobs.values()), strength))


def _job(image, temp_dir: Path, out_dir: Path, taken: set[str]) -> Job:
    if image.source == "TILED":
        tiles = sorted(t.number for t in image.tiles)
        contents = [tile_file(image, n) for n in tiles]
        return Job(image.name, contents, udim_names(out_dir, image.name, contents[0], tiles, taken), tiles=tiles)
    content = _content_file(image, temp_dir)
    return Job(image.name, [content], [new_name(out_dir, image.name, Path(content).suffix, taken)])


def _specs(settings, jobs: list[Job], strength: float | None) -> list[dict]:
    """One worker job for all images; without "One look for all", each image's own
    statistics, and each UDIM set a pooled job of its own (its tiles are one image)."""
    if not jobs:
        return []
    if settings.one_look:
        groups = [(jobs, True)]
    else:
        singles = [j for j in jobs if not j.tiles]
        groups = [([j], True) for j in jobs if j.tiles] + ([(singles, False)] if singles else [])
    return [jobspec.texture_set(settings, [c for j in group for c in j.contents],
                                [o for j in group for o in j.outputs], pooled, strength)
            for group, pooled in groups]


def map_count(context, settings) -> int:
    """How many maps (a UDIM set's tiles each count) Stylize would paint, for the panel."""
    seen: dict[str, int] = {}
    for mat in materials.materials_of(context, settings.scope):
        for found in materials.base_color_images(mat, settings.colour_inputs):
            image = found.image
            if materials.is_colour(image):
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
    """A file holding exactly the pixels the artist sees, without writing the original."""
    path = bpy.path.abspath(image.filepath, library=image.library) if image.filepath else ""
    ext = Path(path).suffix.lower()
    if image.source == "FILE" and not image.packed_file and not image.is_dirty and ext in READABLE:
        return path
    float_data = image.is_float or ext in FLOAT_EXTS
    ext = ".exr" if float_data else ".png"
    copy = temp_dir / f"{bpy.path.clean_name(image.name)}.source{ext}"
    if image.packed_file and not image.is_dirty and Path(path).suffix.lower() in READABLE:
        copy = copy.with_suffix(Path(path).suffix.lower())
        copy.write_bytes(image.packed_file.data)
        return str(copy)
    # Pixels only Blender holds (painted, generated, packed in an odd format): save a copy.
    if _can_save_copy():
        image.save(filepath=str(copy), save_copy=True)
    else:
        _save_via_copy(image, copy)
    return str(copy)


def _can_save_copy() -> bool:
    return "save_copy" in bpy.types.Image.bl_rna.functions["save"].parameters


def _save_via_copy(image, path: Path) -> None:
    """Blender < 5.0: save a throw-away copy of the datablock, so the original keeps its path."""
    dup = image.copy()
    try:
        dup.filepath_raw = str(path)
        dup.file_format = "OPEN_EXR" if path.suffix == ".exr" else "PNG"
        dup.save()
    finally:
        bpy.data.images.remove(dup)


def downscaled(content: str, temp_dir: Path, side: int) -> tuple[str, tuple[int, int]]:
    """A copy of the file `content` at most `side` px on its long side, in the run's
    `temp_dir` (the file itself when it is no larger), and the file's full size."""
    image = bpy.data.images.load(content, check_existing=False)
    try:
        w, h = image.size
        if max(w, h) <= side:
            return content, (w, h)
        image.scale(max(1, round(w * side / max(w, h))), max(1, round(h * side / max(w, h))))
        float_data = Path(content).suffix.lower() in FLOAT_EXTS
        copy = temp_dir / f"{Path(content).stem}.preview{'.exr' if float_data else '.png'}"
        image.filepath_raw, image.file_format = str(copy), "OPEN_EXR" if float_data else "PNG"
        image.save()
        return str(copy), (w, h)
    finally:
        bpy.data.images.remove(image)


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

