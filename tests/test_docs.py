"""The docs a newcomer reads stay true to the repository: a README short enough to read,
links and pictures that resolve, and a docs/ARCHITECTURE.md that names the code as it is
(read from the tree when the test runs, so a moved module or a new import shows here).
No Blender, no networks: text and the files' syntax trees only.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
MAX_README_WORDS = 1500


def _pages() -> list[Path]:
    return [README, ROOT / "models" / "MODELS.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _prose(text: str) -> str:
    """The text with fenced code blocks dropped and inline code blanked (links inside code
    are examples, not links)."""
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "code", text)


def _links(text: str) -> list[str]:
    prose = _prose(text)
    inline = re.findall(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", prose)
    reference = re.findall(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", prose, flags=re.M)
    html = re.findall(r"<(?:img|a)\b[^>]*?\b(?:src|href)=\"([^\"]+)\"", prose)
    return inline + reference + html


def _anchors(page: Path) -> set[str]:
    """GitHub's heading ids: the heading's words in lower case, punctuation but `-` and `_`
    dropped, spaces to hyphens; -1, -2… for repeats."""
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", page.read_text(encoding="utf-8"), flags=re.M | re.S)
    anchors: set[str] = set()
    repeats: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            words = re.sub(r"[`*]|<[^>]+>", "", m.group(1)).strip().lower()
            slug = re.sub(r"[^\w\- ]", "", words).replace(" ", "-")
            n = repeats.get(slug, 0)
            repeats[slug] = n + 1
            anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def test_readme_is_short():
    words = len(README.read_text(encoding="utf-8").split())
    assert words < MAX_README_WORDS, (
        f"README.md has {words} words (under {MAX_README_WORDS} wanted): move the detail to a page in docs/")


def test_readme_holds_the_test_command_ci_runs():
    """.ci/run sets up and runs the tests "exactly as README says"."""
    ci = ROOT / ".ci" / "run"
    if not ci.is_file():
        pytest.skip("no .ci/run in this checkout")
    command = next(line.strip() for line in ci.read_text().splitlines() if "pytest" in line)
    assert command in README.read_text(encoding="utf-8"), f"README.md lost the test command CI runs: {command}"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_picture_resolves(page):
    broken = []
    for target in _links(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, flags=re.I):   # https:, mailto:, …
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target} (no {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest})")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading #{anchor} in {dest.relative_to(ROOT)})")
    assert not broken, f"{page.relative_to(ROOT)}: broken links: {broken}"


# ---- docs/ARCHITECTURE.md against the tree

def _architecture() -> str:
    return ARCHITECTURE.read_text(encoding="utf-8")


def test_every_module_path_architecture_names_exists():
    named = set(re.findall(r"(?<![\w/.])((?:core|addon|scripts)/[\w/.-]*?\.py)\b", _architecture()))
    named |= set(re.findall(r"(?<![\w/.])((?:core|addon|scripts)/[\w/-]+/)", _architecture()))
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"docs/ARCHITECTURE.md names paths that do not exist: {missing}"


def test_architecture_names_every_addon_module_and_core_package():
    text = _architecture()
    addon = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "addon").rglob("*.py"))
             if "__pycache__" not in p.parts]
    core_packages = [p.parent.relative_to(ROOT).as_posix() + "/"
                     for p in sorted((ROOT / "core").rglob("__init__.py"))
                     if p.parent != ROOT / "core" and "__pycache__" not in p.parts]
    core_modules = [p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "core").glob("*.py"))
                    if p.name != "__init__.py"]
    unnamed = [p for p in addon + core_packages + core_modules if p not in text]
    assert addon and core_packages
    assert not unnamed, f"docs/ARCHITECTURE.md does not name: {unnamed}"


def _unit(path: str) -> str:
    """`core/mem/` → mem, `core/errors.py` → errors."""
    return path.removeprefix("core/").rstrip("/").removesuffix(".py")


def _core_imports(unit: str) -> set[str]:
    """The other top-level units of core/ that `unit`'s code imports, lazily or not."""
    base = ROOT / "core" / unit
    files = sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]
    found = set()
    for f in files:
        package = f.relative_to(ROOT).with_suffix("").parts[:-1]     # ('core', 'jobs')
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"), str(f))):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[1] for a in node.names
                          if a.name.startswith("core.")}
            elif isinstance(node, ast.ImportFrom):
                start = package[:len(package) - node.level + 1] if node.level else ()
                full = start + tuple(node.module.split(".") if node.module else ())
                if full[:1] != ("core",):
                    continue
                found |= {full[1]} if len(full) > 1 else {a.name for a in node.names}
    return found - {unit, "__init__"}


def _layer_table() -> list[tuple[str, set[str]]]:
    """The rows of ARCHITECTURE.md's core/ table: (unit, the units its imports column lists)."""
    rows = []
    for line in _architecture().splitlines():
        m = re.match(r"\|\s*`(core/[\w/.]+)`\s*\|([^|]*)\|", line)
        if m:
            listed = {w.strip() for w in m.group(2).split(",") if w.strip() not in ("", "—", "-")}
            rows.append((_unit(m.group(1)), listed))
    return rows


def test_core_layers_in_architecture_match_the_imports():
    rows = _layer_table()
    units = [u for u, _ in rows]
    actual_units = ({p.name for p in (ROOT / "core").iterdir() if (p / "__init__.py").is_file()}
                    | {p.stem for p in (ROOT / "core").glob("*.py") if p.name != "__init__.py"})
    assert set(units) == actual_units, (
        f"the core/ table of docs/ARCHITECTURE.md lists {sorted(units)}; core/ holds {sorted(actual_units)}")
    wrong = []
    for i, (unit, listed) in enumerate(rows):
        actual = _core_imports(unit)
        if actual != listed:
            wrong.append(f"core/{unit}: the table says it imports {sorted(listed) or 'nothing'}, "
                         f"the code imports {sorted(actual) or 'nothing'}")
        upward = sorted(actual - set(units[:i]))
        if upward:
            wrong.append(f"core/{unit} imports {upward}, which the table puts above it (layers go one way)")
    assert not wrong, "docs/ARCHITECTURE.md's core/ table is out of date:\n" + "\n".join(wrong)
