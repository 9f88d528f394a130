"""From the artist's selection to texture jobs: which images, read from where, written where.

One job per image (two materials sharing a map share its stylized copy). The engine
reads files, so an image Blender holds only in memory (packed, generated, painted and
not saved) is first saved as a copy in the job's temp folder; the original datablock
and file are never written. Results go next to the .blend in `stylized/`, or into the
temp folder for an unsaved .blend, always under a name that does not exist yet.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import bpy

from . import jobspec, materials

READABLE = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr"}  # what the engine reads
FLOAT_EXTS = {".exr", ".hdr"}


@dataclass
class Job:
    image: str                      # the original image datablock's name
    content: str                    # file the worker reads
    output: str                     # new file the worker writes
    uses: list = field(default_factory=list)   # (material name, image node name) to relink
    spec: dict = field(default_factory=dict)


@dataclass
class Plan:
    jobs: list[Job]
    skipped: list[str]              # one line per image left alone, and why


def make(context, settings, temp_dir: Path, strength: float | None = None) -> Plan:
    """Plan the jobs for the active material (or the selected objects' materials).

    `temp_dir` is the run's own folder, removed when it ends: copies of in-memory images.
    `strength`: instead of the panel's (Apply Strength).
    """
    jobs: dict[str, Job] = {}
    skipped: list[str] = []
    out_dir = output_dir()
    taken: set[str] = set()
    for mat in materials.materials_of(context, settings.selected_objects):
        for found in materials.base_color_images(mat):
            image = found.image
            if image.name in jobs:
                jobs[image.name].uses.append((mat.name, found.node.name))
                continue
            why = _unusable(image)
            if why:
                skipped.append(f"{mat.name}: {image.name}: {why}")
                continue
            try:
                content = _content_file(image, temp_dir)
            except (RuntimeError, OSError) as e:
                skipped.append(f"{mat.name}: {image.name}: could not read its pixels ({e})")
                continue
            output = new_name(out_dir, image.name, Path(content).suffix, taken)
            job = Job(image.name, content, output, [(mat.name, found.node.name)])
            job.spec = jobspec.texture(settings, content, output, strength)
            jobs[image.name] = job
    return Plan(list(jobs.values()), skipped)


def _unusable(image) -> str | None:
    if not materials.is_colour(image):
        return f"colour space '{image.colorspace_settings.name}' is data, not colour"
    if image.source == "TILED":
        return "UDIM tiles are not supported yet"
    if image.source not in {"FILE", "GENERATED"}:
        return f"a {image.source.lower()} image (stylize renders and videos with the frame tools)"
    if image.source == "FILE" and not image.packed_file and not image.is_dirty:
        path = bpy.path.abspath(image.filepath, library=image.library)
        if not os.path.isfile(path):
            return f"file not found: {path}"
    return None


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
    ext = ext or (".exr" if content_ext.lower() in FLOAT_EXTS else ".png")
    stem = bpy.path.clean_name(Path(image_name).stem if Path(image_name).suffix else image_name)
    for i in range(10000):
        name = f"{stem}.stylized{ext}" if i == 0 else f"{stem}.stylized.{i:03d}{ext}"
        path = folder / name
        if str(path) not in taken and not path.exists():
            taken.add(str(path))
            return str(path)
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

