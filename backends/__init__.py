"""Execution backends. ``plnet.backends.torch``: compiled modules, gradients, ROLL training."""
