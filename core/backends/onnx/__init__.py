"""The onnxruntime backend: ONNX graphs written from the safetensors weights without torch
(`graph`), which graphs exist (`models`) and the backend object (`backend`).
"""
