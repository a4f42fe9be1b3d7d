"""IR ops: one file per op family; importing this package registers them all."""

from plnet.ops.activations import LeakyReLU, PReLU, ReLU
from plnet.ops.add import Add
from plnet.ops.avg_pool import AvgPool
from plnet.ops.base import OP_REGISTRY, Op, PatternOp, register_op
from plnet.ops.conv import Conv
from plnet.ops.conv_transpose import ConvTranspose
from plnet.ops.dense import Dense
from plnet.ops.input import Input
from plnet.ops.maxpool import MaxPool
from plnet.ops.scale_shift import ScaleShift
from plnet.ops.views import Concat, Flatten, Pad, Reshape, Slice, Take, Transpose

__all__ = [
    "OP_REGISTRY", "Op", "PatternOp", "register_op",
    "Add", "AvgPool", "Concat", "Conv", "ConvTranspose", "Dense", "Flatten", "Input",
    "LeakyReLU", "MaxPool", "Pad", "PReLU", "ReLU", "Reshape", "ScaleShift", "Slice", "Take",
    "Transpose",
]
