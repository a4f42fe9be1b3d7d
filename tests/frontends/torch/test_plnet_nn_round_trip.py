"""plnet.nn.ElmanRNN converts with from_torch to the elman recipe at every length, trains with
fit as a sequence model, and the trained model still matches the module with its weights."""

import numpy as np
import pytest
import torch

import plnet
from plnet.nn import ElmanRNN


class Classifier(torch.nn.Module):
    def __init__(self, **rnn):
        super().__init__()
        self.rnn = ElmanRNN(3, 5, batch_first=True, **rnn)
        width = 10 if rnn.get("bidirectional") else 5
        self.head = torch.nn.Linear(width, 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


@pytest.mark.parametrize("rnn", [
    {"nonlinearity": "leaky_relu", "negative_slope": 0.1},
    {"nonlinearity": "relu", "bias": False},
    {"nonlinearity": "leaky_relu", "num_layers": 2, "bidirectional": True, "orthogonal": True},
])
def test_elman_rnn_converts_to_a_sequence_model_equal_to_the_module_at_every_length(rnn):
    torch.manual_seed(0)
    module = Classifier(**rnn).double().eval()
    model = plnet.from_torch(module, torch.randn(2, 4, 3, dtype=torch.float64),
                             sequence_axis=1)
    assert isinstance(model, plnet.sequence.SequenceModel)
    assert model.recipe is not None  # an Elman stack is saved as a recipe, not re-traced
    rng = np.random.default_rng(1)
    for length in (1, 6, 11):
        x = rng.normal(size=(2, length, 3))
        with torch.no_grad():
            expected = module(torch.as_tensor(x)).numpy()
        np.testing.assert_allclose(model.unroll(length)(x), expected, rtol=1e-10, atol=1e-12)


def test_a_converted_elman_rnn_trains_with_fit_on_variable_length_sequences():
    from plnet.backends import torch as pt

    torch.manual_seed(0)
    module = Classifier(nonlinearity="leaky_relu").double().eval()
    model = plnet.from_torch(module, torch.randn(2, 4, 3, dtype=torch.float64),
                             sequence_axis=1)
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(int(t), 3)) for t in rng.integers(2, 9, size=40)]
    ys = np.array([int(x[:, 0].sum() > 0) for x in xs])
    result = pt.fit(model, (xs, ys), epochs=2, batch_size=8, seed=0, progress=False)
    trained = result.network
    assert isinstance(trained, plnet.sequence.SequenceModel)
    moved = [k for k in model.params if not np.array_equal(model.params[k], trained.params[k])]
    assert moved  # training changed the tied parameters
    margins = plnet.margin(trained, xs[:5], p=2)
    assert margins.shape == (5,) and np.all(np.isfinite(margins)) and np.all(margins >= 0)
