"""Recognising an Elman stack in a traced module, to give its sequence model a recipe."""

from __future__ import annotations


def elman_recipe(module, unroll, lengths):
    """The recipe of ``module`` when it is an Elman stack with a readout and dense head."""
    return None
