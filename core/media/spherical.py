"""Mark an MP4 as a monoscopic equirectangular 360° video.

YouTube and 360 players only switch to spherical playback when the container says so;
the pixels alone don't. We write both schemes players look for:

* V1: a `uuid` box holding GSpherical RDF/XML inside the video `trak` (older players,
  YouTube's uploader).
* V2: `st3d` + `sv3d` boxes appended to the video sample entry (the Spherical Video V2
  RFC, google/spatial-media docs/spherical-video-v2-rfc.md; what current players read).

Only `moov` is rewritten; `mdat` and other top-level boxes are streamed through
untouched. Re-injection is idempotent: boxes that are already present are kept and
not added again, so running twice gives the same file.
"""
from __future__ import annotations

import os
import struct
import tempfile
import xml.etree.ElementTree as ET

from ..errors import BrushworkError
from ..media.image_io import place

V1_UUID = bytes.fromhex("ffcc8263f8554a938814587a02521fdd")
METADATA_SOURCE = "Brushwork"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_GSPHERICAL = "http://ns.google.com/videos/1.0/spherical/"
V1_XML = (
    '<?xml version="1.0"?>'
    f'<rdf:SphericalVideo xmlns:rdf="{_RDF}" xmlns:GSpherical="{_GSPHERICAL}">'
    "<GSpherical:Spherical>true</GSpherical:Spherical>"
    "<GSpherical:Stitched>true</GSpherical:Stitched>"
    f"<GSpherical:StitchingSoftware>{METADATA_SOURCE}</GSpherical:StitchingSoftware>"
    "<GSpherical:ProjectionType>equirectangular</GSpherical:ProjectionType>"
    "</rdf:SphericalVideo>"
).encode("utf-8")

# Boxes we descend into on the way to the sample entry; everything else stays opaque bytes.
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
# A VisualSampleEntry has 78 bytes of fixed fields before its child boxes (ISO 14496-12).
_VISUAL_ENTRY_FIXED = 78
_STSD_FIXED = 8  # version/flags + entry_count
_COPY_CHUNK = 1 << 20


class _Box:
    """One parsed box: `prefix` is payload before any children, `children` None for a leaf."""

    def __init__(self, kind: bytes, prefix: bytes, children: list[_Box] | None = None):
        self.kind = kind
        self.prefix = prefix
        self.children = children

    def child(self, kind: bytes) -> _Box | None:
        return next((c for c in self.children or [] if c.kind == kind), None)

    def serialize(self) -> bytes:
        """Rebuild the bytes with every size recomputed, so growth propagates upwards."""
        body = self.prefix + b"".join(c.serialize() for c in self.children or [])
        return _header(self.kind, len(body)) + body


def _header(kind: bytes, body_len: int) -> bytes:
    """A box header, switching to a 64-bit size only when 32 bits can't hold it."""
    if body_len + 8 <= 0xFFFFFFFF:
        return struct.pack(">I4s", body_len + 8, kind)
    return struct.pack(">I4sQ", 1, kind, body_len + 16)


def _full_box(kind: bytes, payload: bytes) -> _Box:
    """A leaf FullBox with version 0 and flags 0, as every spherical box uses."""
    return _Box(kind, b"\0\0\0\0" + payload)


def _iter_boxes(data: bytes, start: int, end: int, path: str):
    """Yield (kind, payload_start, box_end) for the boxes laid end to end in data[start:end]."""
    pos = start
    while pos < end:
        if end - pos < 8:
            raise BrushworkError(f"{path}: damaged MP4 (stray bytes inside a box)")
        size, kind = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1:
            if end - pos < 16:
                raise BrushworkError(f"{path}: damaged MP4 (cut-off box header)")
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            head = 16
        elif size == 0:
            size = end - pos
        if size < head or pos + size > end:
            raise BrushworkError(f"{path}: damaged MP4 ('{kind.decode('latin-1')}' box overruns its parent)")
        yield kind, pos + head, pos + size
        pos += size


def _parse(data: bytes, start: int, end: int, path: str, fixed: int = 0) -> list[_Box]:
    """Parse the children of a box, descending only into the containers we may edit."""
    out = []
    for kind, body, stop in _iter_boxes(data, start, end, path):
        if kind in _CONTAINERS:
            out.append(_Box(kind, b"", _parse(data, body, stop, path)))
        elif kind == b"stsd":
            if stop - body < _STSD_FIXED:
                raise BrushworkError(f"{path}: damaged MP4 (short 'stsd' box)")
            out.append(_Box(kind, data[body:body + _STSD_FIXED],
                            _parse_entries(data, body + _STSD_FIXED, stop, path)))
        else:
            out.append(_Box(kind, data[body:stop]))
    return out


def _parse_entries(data: bytes, start: int, end: int, path: str) -> list[_Box]:
    """Sample entries stay opaque here; the video one is opened later, once we know the track."""
    return [_Box(kind, data[body:stop]) for kind, body, stop in _iter_boxes(data, start, end, path)]


def _open_visual_entry(entry: _Box, path: str) -> None:
    """Split a VisualSampleEntry into its fixed fields and child boxes, in place."""
    if entry.children is not None:
        return
    raw = entry.prefix
    if len(raw) < _VISUAL_ENTRY_FIXED:
        raise BrushworkError(f"{path}: damaged MP4 (short '{entry.kind.decode('latin-1')}' sample entry)")
    entry.children = [_Box(k, raw[b:s]) for k, b, s in _iter_boxes(raw, _VISUAL_ENTRY_FIXED, len(raw), path)]
    entry.prefix = raw[:_VISUAL_ENTRY_FIXED]


def _top_level(f, path: str) -> list[tuple[bytes, int, int, int]]:
    """(kind, start, header_len, end) of each top-level box; size 0 runs to end of file."""
    f.seek(0, os.SEEK_END)
    file_size = f.tell()
    boxes, pos = [], 0
    while pos < file_size:
        f.seek(pos)
        head = f.read(16)
        if len(head) < 8:
            raise BrushworkError(f"{path}: truncated MP4 (cut-off box header at byte {pos})")
        size, kind = struct.unpack_from(">I4s", head)
        if not all(32 <= c < 127 for c in kind):
            raise BrushworkError(f"{path}: not an MP4 file (no valid box at byte {pos})")
        hlen = 8
        if size == 1:
            if len(head) < 16:
                raise BrushworkError(f"{path}: truncated MP4 (cut-off box header at byte {pos})")
            size, hlen = struct.unpack_from(">Q", head, 8)[0], 16
        elif size == 0:
            size = file_size - pos
        if size < hlen:
            raise BrushworkError(f"{path}: not an MP4 file (bad box size at byte {pos})")
        if pos + size > file_size:
            raise BrushworkError(f"{path}: truncated MP4 ('{kind.decode()}' box runs past the end of the file)")
        boxes.append((kind, pos, hlen, pos + size))
        pos += size
    if not boxes or boxes[0][0] not in (b"ftyp", b"styp", b"free", b"skip", b"wide"):
        raise BrushworkError(f"{path}: not an MP4 file (no 'ftyp' box)")
    return boxes


def _load_moov(path: str):
    """Read the file's layout and parse its moov: (top-level boxes, moov index, moov box)."""
    try:
        with open(path, "rb") as f:
            boxes = _top_level(f, path)
            idx = next((i for i, b in enumerate(boxes) if b[0] == b"moov"), None)
            if idx is None:
                raise BrushworkError(f"{path}: MP4 has no 'moov' box (unfinished or truncated recording?)")
            _, start, hlen, end = boxes[idx]
            f.seek(start + hlen)
            data = f.read(end - start - hlen)
    except OSError as e:
        raise BrushworkError(f"{path}: cannot read video ({e.strerror})") from e
    return boxes, idx, _Box(b"moov", b"", _parse(data, 0, len(data), path))


def _video_track(moov: _Box, path: str) -> tuple[_Box, _Box]:
    """The first track whose handler is 'vide', with its (opened) first sample entry."""
    for trak in moov.children:
        if trak.kind != b"trak":
            continue
        hdlr = (trak.child(b"mdia") or _Box(b"", b"")).child(b"hdlr")
        if hdlr is None or hdlr.prefix[8:12] != b"vide":
            continue
        stsd = _descend(trak, (b"mdia", b"minf", b"stbl", b"stsd"))
        if stsd is None or not stsd.children:
            raise BrushworkError(f"{path}: video track has no sample description")
        entry = stsd.children[0]
        _open_visual_entry(entry, path)
        return trak, entry
    raise BrushworkError(f"{path}: MP4 has no video track")


def _descend(box: _Box, kinds) -> _Box | None:
    for kind in kinds:
        box = box.child(kind) if box else None
    return box


def _v1_box(trak: _Box) -> _Box | None:
    return next((c for c in trak.children if c.kind == b"uuid" and c.prefix[:16] == V1_UUID), None)


def _v2_boxes() -> tuple[_Box, _Box]:
    """st3d (mono) then sv3d{svhd, proj{prhd, equi}}, laid out as the V2 RFC specifies."""
    st3d = _full_box(b"st3d", struct.pack(">B", 0))  # stereo_mode 0: monoscopic
    svhd = _full_box(b"svhd", METADATA_SOURCE.encode() + b"\0")
    prhd = _full_box(b"prhd", struct.pack(">iii", 0, 0, 0))  # yaw, pitch, roll (16.16)
    equi = _full_box(b"equi", struct.pack(">IIII", 0, 0, 0, 0))  # bounds: top, bottom, left, right
    sv3d = _Box(b"sv3d", b"", [svhd, _Box(b"proj", b"", [prhd, equi])])
    return st3d, sv3d


def _add_metadata(trak: _Box, entry: _Box) -> bool:
    """Add whichever of V1/V2 is missing; True if anything changed."""
    changed = False
    if _v1_box(trak) is None:
        at = next((i + 1 for i, c in enumerate(trak.children) if c.kind == b"tkhd"), 0)
        trak.children.insert(at, _Box(b"uuid", V1_UUID + V1_XML))
        changed = True
    st3d, sv3d = _v2_boxes()
    if entry.child(b"sv3d") is None:
        entry.children.append(sv3d)
        changed = True
    if entry.child(b"st3d") is None:
        at = next(i for i, c in enumerate(entry.children) if c.kind == b"sv3d")
        entry.children.insert(at, st3d)
        changed = True
    return changed


def _shift_chunk_offsets(moov: _Box, after: int, delta: int, path: str) -> None:
    """Move every chunk offset that points past the old moov by `delta` (faststart files)."""
    for trak in moov.children:
        stbl = _descend(trak, (b"mdia", b"minf", b"stbl")) if trak.kind == b"trak" else None
        for box in (stbl.children if stbl else []):
            if box.kind in (b"stco", b"co64"):
                box.prefix = _shifted(box, after, delta, path)


def _shifted(box: _Box, after: int, delta: int, path: str) -> bytes:
    fmt = "I" if box.kind == b"stco" else "Q"
    width = struct.calcsize(">" + fmt)
    count = struct.unpack_from(">I", box.prefix, 4)[0]
    if len(box.prefix) < 8 + count * width:
        raise BrushworkError(f"{path}: damaged MP4 (short '{box.kind.decode()}' table)")
    offsets = struct.unpack_from(f">{count}{fmt}", box.prefix, 8)
    moved = [o + delta if o >= after else o for o in offsets]
    if fmt == "I" and moved and max(moved) > 0xFFFFFFFF:
        raise BrushworkError(f"{path}: chunk offsets would overflow 32 bits after adding metadata")
    return box.prefix[:8] + struct.pack(f">{count}{fmt}", *moved) + box.prefix[8 + count * width:]


def _copy_range(src, dst, start: int, end: int) -> None:
    src.seek(start)
    left = end - start
    while left:
        chunk = src.read(min(_COPY_CHUNK, left))
        if not chunk:
            raise BrushworkError(f"{src.name}: file shrank while being rewritten")
        dst.write(chunk)
        left -= len(chunk)


def _write(path: str, output: str, boxes, idx: int, moov_bytes: bytes, overwrite: bool) -> None:
    """Stream the file into a temp next to `output`, swapping in the new moov, then move it
    into place: over `path` itself when rewriting in place, over another file only with
    `overwrite`."""
    folder = os.path.dirname(os.path.abspath(output))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".spherical-", suffix=".mp4", dir=folder)
    except OSError as e:
        raise BrushworkError(f"{output}: cannot write video ({e.strerror})") from e
    try:
        with open(path, "rb") as src, os.fdopen(fd, "wb") as dst:
            for i, (_, start, _, end) in enumerate(boxes):
                if i == idx:
                    dst.write(moov_bytes)
                else:
                    _copy_range(src, dst, start, end)
        place(tmp, output, overwrite or os.path.abspath(output) == os.path.abspath(path), output)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError):
            raise BrushworkError(f"{output}: cannot write video ({e.strerror})") from e
        raise


def inject(path: str, output: str | None = None, overwrite: bool = False) -> None:
    """Add V1 and V2 equirectangular mono metadata to `path` (in place when output is None;
    an existing `output` is replaced only with `overwrite`).

    Idempotent: metadata already present is left alone. The rewrite goes through a temp file
    in the output's folder so a crash never leaves a half-written video behind.
    """
    path = os.fspath(path)
    output = path if output is None else os.fspath(output)
    boxes, idx, moov = _load_moov(path)
    trak, entry = _video_track(moov, path)
    if not _add_metadata(trak, entry):
        if os.path.abspath(output) != os.path.abspath(path):
            _write(path, output, boxes, None, b"", overwrite)
        return
    _, start, _, end = boxes[idx]
    growth = len(moov.serialize()) - (end - start)
    # Offsets only point past moov when moov precedes the media; shifting those also
    # changes no sizes, so one pass settles the growth.
    _shift_chunk_offsets(moov, end, growth, path)
    _write(path, output, boxes, idx, moov.serialize(), overwrite)


def _read_v1(trak: _Box) -> dict | None:
    box = _v1_box(trak)
    if box is None:
        return None
    try:
        root = ET.fromstring(box.prefix[16:])
    except ET.ParseError:
        return None
    fields = {el.tag.split("}")[-1]: (el.text or "").strip() for el in root}
    return {
        "projection": fields.get("ProjectionType", "").lower() or None,
        "spherical": fields.get("Spherical", "").lower() == "true",
        "stitched": fields.get("Stitched", "").lower() == "true",
        "stitching_software": fields.get("StitchingSoftware"),
    }


def _read_v2(entry: _Box, path: str) -> dict | None:
    sv3d_raw = entry.child(b"sv3d")
    if sv3d_raw is None:
        return None
    st3d = entry.child(b"st3d")
    sv3d = _leaf_map(sv3d_raw.prefix, path)
    proj = _leaf_map(sv3d.get(b"proj", b""), path)
    result = {
        "projection": None,
        "stereo_mode": st3d.prefix[4] if st3d is not None and len(st3d.prefix) > 4 else 0,
        "metadata_source": sv3d.get(b"svhd", b"\0" * 4)[4:].split(b"\0")[0].decode("utf-8", "replace"),
        "pose": None,
        "bounds": None,
    }
    if len(proj.get(b"prhd", b"")) >= 16:
        result["pose"] = tuple(v / 65536 for v in struct.unpack_from(">iii", proj[b"prhd"], 4))
    if len(proj.get(b"equi", b"")) >= 20:
        result["projection"] = "equirectangular"
        result["bounds"] = struct.unpack_from(">IIII", proj[b"equi"], 4)
    elif b"cbmp" in proj:
        result["projection"] = "cubemap"
    elif b"mshp" in proj:
        result["projection"] = "mesh"
    return result


def _leaf_map(data: bytes, path: str) -> dict[bytes, bytes]:
    return {k: data[b:s] for k, b, s in _iter_boxes(data, 0, len(data), path)}


def read_spherical(path: str) -> dict:
    """What spherical metadata the video track carries: {"v1": dict | None, "v2": dict | None}."""
    path = os.fspath(path)
    _, _, moov = _load_moov(path)
    trak, entry = _video_track(moov, path)
    return {"v1": _read_v1(trak), "v2": _read_v2(entry, path)}
