"""Knowledge of what a picture shows: equirectangular panoramas (`panorama`, `poles`),
render depth (`depth`) and motion between frames (`motion`, `flow`).
"""
