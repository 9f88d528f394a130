"""Stopping a job from the window (Esc, the Cancel button) and the render operators
started from the panel, in Blender 4.3's window."""


def test_esc_and_cancel_leave_everything_as_it_was(gui_env, tmp_path):
    r = gui_env.run("interrupt", tmp_path, timeout=300).result
    assert r["esc_running"] and r["cancel_running"], "a job was not running when it was stopped"
    for after in (r["after_esc"], r["after_cancel"]):
        assert after["state"] == r["before"]["state"]
        assert after["files"] == r["before"]["files"] == []
        assert after["workers"] == []


def test_stylize_render_and_panorama(gui_env, tmp_path):
    r = gui_env.run("renders", tmp_path, timeout=400).result
    assert "Render Result.stylized" in r["render"]["images"], r["render"]
    assert any(f.endswith(".png") for f in r["render"]["files"]), r["render"]
    assert "Scene panorama.stylized" in r["panorama"]["images"], r["panorama"]
    assert any(f.endswith(".jpg") for f in r["panorama"]["files"]), r["panorama"]
    assert r["panorama"]["engine"] == "CYCLES"


def test_install_from_disk_and_check(gui_env, tmp_path):
    run = gui_env.run("install", tmp_path, bare=True, timeout=300)
    r = run.result
    assert r["before"] is False and r["enabled"]
    assert r["browser_file"].endswith("linux_x64.zip")
    assert r["check"].startswith("Ready:") and "onnxruntime" in r["check"], r["check"]
    for method in ("ccpl-r31", "wct-r31", "linear-r31"):
        assert method in r["check"], r["check"]
