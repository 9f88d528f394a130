"""Brushwork's Blender add-on: collects inputs, starts a `core` worker job, shows results.

Everything that imports `bpy` lives in this package; the maths stays in `core/`, which
runs in a child process (see `worker_client.py`). This module only registers.
"""
from . import auto_render, driving, operators, panels, preferences, previews, properties

_MODULES = (properties, preferences, previews, operators, auto_render, panels)


def register():
    for module in _MODULES:
        module.register()


def unregister():
    driving.stop_all()   # a job still running would lose its operator and its clean-up
    for module in reversed(_MODULES):
        module.unregister()
