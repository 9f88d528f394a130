"""Whole jobs, from files in to files out: one image (`image`), a frame sequence
(`frames`) and a movie (`movie`). Each checks its inputs, runs the engine and writes
its outputs atomically.
"""
