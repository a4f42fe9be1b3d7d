"""The paper's published numbers, transcribed from Lee, Alvarez-Melis and Jaakkola (ICLR
2019), §5: margins as real numbers (the tables print them x1e-4 or x1e-6), accuracies and
precisions as fractions, times in seconds."""

from __future__ import annotations


def _pct(values, scale):
    return {f"P{q}": v * scale for q, v in zip((25, 50, 75, 100), values)}


def _margin_row(loss, C, lam, acc, clr, eps1, eps2, scale):
    return {"loss": loss, "C": C, "lambda": lam, "acc": acc, "clr": clr,
            "eps1": _pct(eps1, scale), "eps2": _pct(eps2, scale)}


#: Table 1: 4x300 ReLU MLP on MNIST (55k/5k/10k), gamma = 100, lambda = 2; #CLR among the
#: 10k testing points.
TABLE1 = [
    _margin_row("vanilla", None, None, 0.98, 10000, (22, 53, 106, 866), (3, 6, 13, 91), 1e-4),
    _margin_row("roll", 0.25, 2.0, 0.98, 9986, (219, 530, 1056, 6347), (37, 92, 182, 1070),
                1e-4),
    _margin_row("roll", 1.0, 2.0, 0.97, 8523, (665, 1593, 3175, 21825), (125, 297, 604, 4345),
                1e-4),
]

#: Table 2: seconds per gradient step of the Table 1 model (printed x1e-5).
TABLE2 = [
    {"setting": "vanilla", "seconds_per_step": 129e-5},
    {"setting": "roll_full_backprop", "seconds_per_step": 31185e-5},
    {"setting": "roll_full_perturbation", "seconds_per_step": 2667e-5},
    {"setting": "roll_3_samples_perturbation", "seconds_per_step": 298e-5},
]

#: Table 3: scoRNN (LeakyReLU, 512 units) on Japanese Vowels; #CLR is not reported.
TABLE3 = [
    _margin_row("vanilla", None, None, 0.98, None, (66, 177, 337, 1322), (23, 61, 113, 438),
                1e-6),
    _margin_row("roll", 2.0 ** 4, 2.0 ** -5, 0.98, None, (264, 562, 1107, 5227),
                (95, 207, 407, 1809), 1e-6),
    _margin_row("roll", 2.0 ** 2, 2.0 ** -1, 0.97, None, (1284, 2898, 6086, 71235),
                (544, 1249, 2644, 22968), 1e-6),
]

#: Table 4: ResNet-18 on Caltech-256, eps = 8/256; l1 gradient distortions (expected over
#: 8000 uniform samples, maximum by the genetic algorithm) on 1024 testing images.
TABLE4 = [
    {"loss": "vanilla", "C": None, "lambda": None, "p_at_1": 0.807, "p_at_5": 0.934,
     "expected_l1": _pct((583.8, 777.4, 1041.9, 3666.7), 1.0),
     "max_l1": _pct((840.9, 1118.2, 1477.6, 5473.5), 1.0)},
    {"loss": "roll", "C": 8.0, "lambda": 1e-3, "p_at_1": 0.808, "p_at_5": 0.941,
     "expected_l1": _pct((540.6, 732.0, 948.7, 2652.2), 1.0),
     "max_l1": _pct((779.9, 1046.7, 1368.2, 3882.8), 1.0)},
]
