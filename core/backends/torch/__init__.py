"""The torch backend: the networks as torch modules (`nets`), reduced precision
(`precision`) and the backend object the engine drives (`backend`). Only imported when
torch is chosen.
"""
