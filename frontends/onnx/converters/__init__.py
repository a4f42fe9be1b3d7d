"""ONNX converters, one file per op family."""
