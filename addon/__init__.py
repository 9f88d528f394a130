"""Brushwork's Blender add-on: collects inputs, starts a `core` worker job, shows results.

Everything that imports `bpy` lives in this package; the maths stays in `core/`, which
runs in a child process (see `worker_client.py`). This module only registers, and
imports the `bpy` modules only then, so the spec and planning code (jobspec.py,
choices.py, gallery.py, worker_client.py) imports and is tested without Blender.
"""


def _modules():
    from . import auto_render, operators, panels, preferences, previews, properties
    return (properties, preferences, previews, operators, auto_render, panels)


def register():
    for module in _modules():
        module.register()


def unregister():
    from . import driving
    driving.stop_all()   # a job still running would lose its operator and its clean-up
    for module in reversed(_modules()):
        module.unregister()
