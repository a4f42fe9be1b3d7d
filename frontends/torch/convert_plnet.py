"""plnet's own exported op modules (see :mod:`plnet.frontends.torch.export`) read back as
exactly the op they hold, with their parameters tied as they were."""

from __future__ import annotations

import dataclasses

from plnet.frontends.torch.export import OpModule
from plnet.frontends.torch.registry import converts_module
from plnet.frontends.torch.values import TensorValue


@converts_module(OpModule)
def convert_op_module(lower, node, module, *xs):
    tvs = [lower.tensor(x) for x in xs]
    names = {field: lower.param(param, getattr(module.op, field))
             for field, param in module.weights.items()}
    op = dataclasses.replace(module.op, **names)
    name = lower.fresh(module.node_name)
    return TensorValue(lower.builder.add_node(op, [t.node for t in tvs], name))
