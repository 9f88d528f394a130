"""scripts/ship_weights.py rewrites the three places that hold a shipped file's sha256."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import ship_weights as ship  # noqa: E402

WEIGHTS = '''REGISTRY = {
    "a": Entry("11",
               "old a"),
    "bb": Entry(None, "python scripts/train.py bb"),
}
'''


def test_a_registry_entry_is_replaced_whole_even_across_lines():
    text = ship.record_weights(WEIGHTS, "a", "ff", "cmd a")
    assert '"a": Entry("ff",\n               "cmd a"),' in text and "old a" not in text
    text = ship.record_weights(text, "bb", "ee", "cmd b")
    assert '"bb": Entry("ee",' in text and "None" not in text
    assert text.count("Entry(") == 2


def test_an_unknown_key_is_refused_rather_than_added_silently():
    with pytest.raises(SystemExit, match="no REGISTRY entry 'c'"):
        ship.record_weights(WEIGHTS, "c", "ff", "cmd")


def test_onnx_hashes_are_updated_in_place_or_appended():
    text = 'SHA256 = {\n    "x-none.onnx": "aa",\n}\n\ndef f(): pass\n'
    out = ship.record_onnx(text, {"x-none.onnx": "bb", "y-none.onnx": "cc"})
    assert out == 'SHA256 = {\n    "x-none.onnx": "bb",\n    "y-none.onnx": "cc",\n}\n\ndef f(): pass\n'


def test_table_rows_are_replaced_by_file_name_and_new_ones_appended_inside_the_markers():
    md = "intro\n<!-- t table -->\n| file | sha |\n| `a` | `1` |\n<!-- /t table -->\nafter `a`\n"
    out = ship.record_table(md, "t", {"a": "| `a` | `2` |", "b": "| `b` | `3` |"})
    assert out == "intro\n<!-- t table -->\n| file | sha |\n| `a` | `2` |\n| `b` | `3` |\n<!-- /t table -->\nafter `a`\n"
    assert ship._cell(out, "b", 1) == "`3`"


def test_a_stage_built_on_earlier_steps_keeps_them_in_its_command():
    shipped = ("python scripts/train.py pack; python scripts/train.py head (stopped at step 9); "
               "python scripts/train.py dec (resumed until step 50); python scripts/train.py export dec")
    made = "python scripts/train.py dec (resumed until step 77); python scripts/train.py export dec"
    assert ship.command_for(shipped, "dec", made) == (
        "python scripts/train.py pack; python scripts/train.py head (stopped at step 9); "
        "python scripts/train.py dec (resumed until step 77); python scripts/train.py export dec")
    joint = "python scripts/train.py joint (resumed until step 3); python scripts/train.py export joint"
    assert ship.command_for(shipped, "joint", joint) == (  # continued the shipped file
        "python scripts/train.py pack; python scripts/train.py head (stopped at step 9); "
        "python scripts/train.py dec (resumed until step 50); python scripts/train.py export dec; " + joint)
    assert ship.command_for(None, "joint", joint) == joint  # nothing shipped before
