"""Ship a training stage's checkpoint: export it into models/ and record it everywhere.

    python scripts/ship_weights.py STAGE [--source "licence / source text for a new file"]

Runs `train.py export STAGE` (fp16 safetensors into models/), then `export_onnx.py` (the
graphs that point into them), and writes the new sha256s, sizes and producing commands
where the loaders check them: `core/nets/weights.py` (REGISTRY), `core/backends/onnx/models.py`
(SHA256) and both tables of `models/MODELS.md`. Tests then hold all of them to the files.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WEIGHTS_PY = ROOT / "core" / "nets" / "weights.py"
ONNX_PY = ROOT / "core" / "backends" / "onnx" / "models.py"
MODELS_MD = ROOT / "models" / "MODELS.md"
DEFAULT_SOURCE = "ours (Brushwork), trained on `../shared/data` (see below)"


def _run(*args: str) -> list[list[str]]:
    out = subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True, text=True)
    return [line.split() for line in out.stdout.splitlines() if line.strip()]


def command_for(shipped: str | None, stage: str, command: str) -> str:
    """The producing command of `stage`'s new weights: `command` (what the export wrote in
    the file), after the steps that came before, as the registry recorded them (`shipped`,
    None if nothing shipped): those before the stage's earlier runs (a pack, the head a
    decoder was built on), or, from another stage, all of them (it continued that file)."""
    if shipped is None:
        return command
    prefix, found, _ = shipped.partition(f"python scripts/train.py {stage} ")
    return prefix + command if found else f"{shipped}; {command}"


def _entry(key: str, sha: str, command: str) -> str:
    return f'    "{key}": Entry("{sha}",\n{" " * (len(key) + 14)}"{command}"),\n'


def record_weights(text: str, key: str, sha: str, command: str) -> str:
    """REGISTRY's entry for `key` (which may span lines) replaced by the new one."""
    pattern = re.compile(rf'^    "{re.escape(key)}": Entry\(.*?\),\n', re.S | re.M)
    if not pattern.search(text):
        raise SystemExit(f"{WEIGHTS_PY}: no REGISTRY entry {key!r}; add it (sha256 None) first")
    return pattern.sub(lambda m: _entry(key, sha, command), text, count=1)


def record_onnx(text: str, graphs: dict[str, str]) -> str:
    """SHA256 dict: existing names updated in place, new ones appended before its end."""
    for name, sha in graphs.items():
        line = f'    "{name}": "{sha}",\n'
        pattern = re.compile(rf'^    "{re.escape(name)}": "[0-9a-f]+",\n', re.M)
        if pattern.search(text):
            text = pattern.sub(line, text, count=1)
        else:
            head, sep, tail = text.partition("SHA256 = {\n")
            body, end, rest = tail.partition("}\n")
            text = head + sep + body + line + end + rest
    return text


def record_table(text: str, table: str, rows: dict[str, str]) -> str:
    """Rows of a MODELS.md table (between its markers), replaced by file name or appended."""
    start, stop = f"<!-- {table} table -->\n", f"<!-- /{table} table -->"
    head, _, tail = text.partition(start)
    body, _, rest = tail.partition(stop)
    lines = body.splitlines(keepends=True)
    for name, row in rows.items():
        at = [i for i, line in enumerate(lines) if line.startswith(f"| `{name}` |")]
        if at:
            lines[at[0]] = row + "\n"
        else:
            lines.append(row + "\n")
    return head + start + "".join(lines) + stop + rest


def _cell(text: str, name: str, column: int) -> str | None:
    for line in text.splitlines():
        if line.startswith(f"| `{name}` |"):
            return line.strip().strip("|").split("|")[column].strip()
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("stage")
    p.add_argument("--source", help="licence / source column for a file not yet in MODELS.md")
    args = p.parse_args(argv)
    from core.nets import safetensors_file, weights
    from core.nets.architecture import MODELS

    exported = _run("scripts/train.py", "export", args.stage)  # [file, sha, "step", N]
    md, registry = MODELS_MD.read_text(), WEIGHTS_PY.read_text()
    rows = {}
    for file, sha, _, step in exported:
        key = next(k for k, m in MODELS.items() if m.file == file)
        made = safetensors_file.metadata(ROOT / "models" / file)["command"]
        entry = weights.REGISTRY[key]
        command = command_for(entry.command if entry.sha256 else None, args.stage, made)
        registry = record_weights(registry, key, sha, command)
        source = _cell(md, file, 4) or args.source or DEFAULT_SOURCE
        size = (ROOT / "models" / file).stat().st_size
        rows[file] = f"| `{file}` | `{sha}` | {size:,} | `{command}` | {source} |"
        print(f"{file} {sha} step {step}")
    WEIGHTS_PY.write_text(registry)
    graphs = {name: (sha, int(size)) for name, sha, size in _run("scripts/export_onnx.py")}
    ONNX_PY.write_text(record_onnx(ONNX_PY.read_text(), {n: s for n, (s, _) in graphs.items()}))
    md = record_table(md, "weights", rows)
    md = record_table(md, "onnx", {n: f"| `{n}` | `{s}` | {z:,} |" for n, (s, z) in graphs.items()})
    MODELS_MD.write_text(md)
    print(f"recorded in {WEIGHTS_PY.name}, {ONNX_PY.name} and {MODELS_MD.name}; {len(graphs)} graphs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
