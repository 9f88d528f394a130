"""Quitting Blender (Ctrl-Q) while Stylize Texture runs: Blender must take the job down
with it, cleanly. Seen by hand before the fix: the worker kept writing after Blender had
gone, its result stayed on disk, and Python printed "Exception ignored … sys.meta_path
is None" because the job's clean-up ran only in the garbage collector at shutdown."""


def test_quit_mid_job_leaves_nothing(gui_env, tmp_path):
    run = gui_env.run("quit_mid_job", tmp_path)
    r = run.result
    assert r["status"] == "quitting"
    assert r["running"] and r["workers_during"], "the job was not running when Ctrl-Q was pressed"
    assert run.returncode == 0, run.log[-2000:]
    assert "core worker" not in run.processes(), "a worker outlived Blender:\n" + run.processes()
    assert "Exception ignored" not in run.log and "Traceback" not in run.log, run.log[-3000:]
    stylized = run.scene / "stylized"
    assert not stylized.exists() or not any(stylized.iterdir()), sorted(stylized.rglob("*"))
    assert not list((run.out / "tmp").glob("brushwork-*")), "the job's temp folder was left behind"
    # Blender opens the .blend as it was last saved: the original material, no stylized image.
    again = gui_env.run("reopen", tmp_path)
    assert again.result["state"] == r["saved"]
    assert again.result["files"] == []
