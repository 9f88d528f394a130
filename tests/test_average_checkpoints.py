"""scripts/average_checkpoints.py: a mean of a run's late checkpoints, named in its export."""
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import average_checkpoints  # noqa: E402
import train  # noqa: E402
from core.training import loop  # noqa: E402


def _checkpoint(path, value, step, extra=None):
    w = torch.nn.Parameter(torch.full((2, 3), float(value)))
    opt = torch.optim.Adam([w], lr=0.1)
    w.grad = torch.ones_like(w)
    opt.step()
    with torch.no_grad():
        w.fill_(value)
    loop.save_checkpoint(path, {"w": w}, opt, step, extra)


def test_parameters_are_averaged_and_the_latest_state_and_step_kept(tmp_path):
    for value, step in ((1.0, 10), (4.0, 30), (2.5, 20)):
        _checkpoint(tmp_path / f"{step}.safetensors", value, step, {"warm_from": "5"})
    out = tmp_path / "dec.ckpt.safetensors"
    average_checkpoints.average([tmp_path / f"{s}.safetensors" for s in (10, 30, 20)], out)
    with safe_open(str(out), "pt") as f, safe_open(str(tmp_path / "30.safetensors"), "pt") as last:
        assert torch.allclose(f.get_tensor("w"), torch.full((2, 3), 2.5))
        assert torch.equal(f.get_tensor("opt/w/exp_avg"), last.get_tensor("opt/w/exp_avg"))
        assert f.metadata()["step"] == "30" and f.metadata()["warm_from"] == "5"
    w = torch.nn.Parameter(torch.zeros(2, 3))
    assert loop.load_checkpoint(out, {"w": w}, torch.optim.Adam([w])) == 30  # resumes as any checkpoint
    command = train.export_command("dec", 30, tmp_path)
    assert "steps 10, 20, 30" in command and "average_checkpoints.py" in command
    assert command.endswith("python scripts/train.py export dec")


def test_a_plain_checkpoint_exports_with_the_plain_command(tmp_path):
    _checkpoint(tmp_path / "dec.ckpt.safetensors", 1.0, 7)
    assert train.export_command("dec", 7, tmp_path) == (
        "python scripts/train.py dec (resumed until step 7); python scripts/train.py export dec")


def test_one_checkpoint_or_mismatched_ones_are_refused(tmp_path):
    _checkpoint(tmp_path / "a.safetensors", 1.0, 1)
    with pytest.raises(SystemExit, match="at least two"):
        average_checkpoints.average([tmp_path / "a.safetensors"], tmp_path / "o.safetensors")
    with pytest.raises(SystemExit, match="no such checkpoint"):
        average_checkpoints.average([tmp_path / "a.safetensors", tmp_path / "b.safetensors"],
                                    tmp_path / "o.safetensors")
    from safetensors.torch import save_file
    save_file({"v": torch.zeros(2)}, str(tmp_path / "b.safetensors"), metadata={"step": "2"})
    with pytest.raises(SystemExit, match="other parameters"):
        average_checkpoints.average([tmp_path / "a.safetensors", tmp_path / "b.safetensors"],
                                    tmp_path / "o.safetensors")
    assert not (tmp_path / "o.safetensors").exists()
