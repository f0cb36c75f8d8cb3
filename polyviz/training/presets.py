"""Presets reproducing the research: data, model and training settings known to work."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from polyviz.datasets import make_dataset, train_test_split
from polyviz.models import ModelConfig
from polyviz.training.config import ProgressFn, TrainConfig
from polyviz.training.loop import TrainResult, train


@dataclass
class DataSpec:
    """Which data set and split: ``make_dataset(name, n, noise, seed, **params)`` then
    ``train_test_split(..., train_ratio, seed)``."""

    name: str
    n: int
    noise: float
    seed: int = 0
    params: dict = field(default_factory=dict)
    train_ratio: float = 0.8

    def load(self):
        """(X_train, X_test, y_train, y_test)."""
        X, y = make_dataset(self.name, self.n, self.noise, self.seed, **self.params)
        return train_test_split(X, y, self.train_ratio, self.seed)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Preset:
    name: str
    description: str
    data: DataSpec
    model: ModelConfig
    train: TrainConfig
    target_accuracy: float  # the test accuracy the default seed is known to reach

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "data": self.data.to_dict(),
                "model": self.model.to_dict(), "train": self.train.to_dict(),
                "target_accuracy": self.target_accuracy}


# Default seeds were found by training seeds 0..15 of each preset (one by one, and again as a
# float32 sweep, a float64 sweep and with two threads, since a seed near a plateau can go
# either way with rounding) and taking one that reaches the target in every variant:
# * spiral: 9 of 16 seeds reached 97 % test accuracy within 3000 steps when trained one by one
#   (0.81-0.84 otherwise, stuck on the plateau). Seed 4 (also 3, 12) succeeds in all variants;
#   it plateaus near loss 0.35 and drops at step ~1430-1490 (97 % test accuracy at step 1470).
# * octant_sphere: 10 of 12 seeds reached 95 % within 6000 steps one by one, but of seeds 0-63
#   only 13 show a detected phase transition and none more than one (seed 0 has none). Seed 23
#   sits on a plateau near loss 0.35-0.39 (steps ~250-1100), drops at step 1277 one by one, with
#   two threads and on the page (1226 in a float32 sweep), final test accuracy 0.984 in each.
# * digits: seeds 0..4 of width 64, one LayerNorm hidden layer, lr 0.005, 300 steps all end
#   between 96.1 % and 96.7 % test accuracy (95 % first evaluated at step 30); deeper (2 layers)
#   or u_eps (eps 1e-3) end nearer 95.5 %, so the preset is the shallow LayerNorm one.
PRESETS: dict[str, Preset] = {
    "spiral": Preset(
        name="spiral",
        description=("Two-arm spiral (0.75 turns, 1000 training points, noise 0.01) solved by a width-3 "
                     "u_eps MLP, Linear -> u_eps -> Linear -> u_eps -> Linear; Adam lr 0.02, full batch. "
                     "Many seeds sit on a plateau first and then drop sharply (a phase transition)."),
        data=DataSpec("spiral", n=1250, noise=0.01, seed=0, params={"turns": 0.75}, train_ratio=0.8),
        model=ModelConfig(in_dim=2, width=3, depth=2, activation="u_eps", eps=1e-5),
        train=TrainConfig(steps=3000, lr=0.02, seed=4, eval_every=10, checkpoint_every=100),
        target_accuracy=0.97,
    ),
    "octant_sphere": Preset(
        name="octant_sphere",
        description=("Points on the sphere S2, adjacent octants in opposite classes (1000 training points), "
                     "solved by a deeper width-3 u_eps stack (4 hidden layers); Adam lr 0.02, full batch. "
                     "Training sits on a plateau before a sharp drop (a phase transition)."),
        data=DataSpec("octant_sphere", n=1250, noise=0.0, seed=0, params={}, train_ratio=0.8),
        model=ModelConfig(in_dim=3, width=3, depth=4, activation="u_eps", eps=1e-5),
        train=TrainConfig(steps=6000, lr=0.02, seed=23, eval_every=10, checkpoint_every=200),
        target_accuracy=0.95,
    ),
    "digits": Preset(
        name="digits",
        description=("Handwritten digits (scikit-learn's 8x8 images, 1,797 of them, 10 classes; 1,437 training "
                     "images): Linear(64, 64) -> LayerNorm -> Linear(64, 10), softmax cross-entropy, Adam lr "
                     "0.005, 300 full-batch steps. LayerNorm is its only non-linearity."),
        data=DataSpec("digits", n=1797, noise=0.0, seed=0, params={}, train_ratio=0.8),
        model=ModelConfig(in_dim=64, width=64, depth=1, activation="layernorm", eps=1e-5, n_classes=10),
        train=TrainConfig(steps=300, lr=0.005, seed=0, eval_every=10, checkpoint_every=10),
        target_accuracy=0.95,
    ),
}
PRESET_NAMES = tuple(PRESETS)


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESET_NAMES)}; got {name!r}")
    p = PRESETS[name]
    # fresh copies: callers may change them
    return Preset(p.name, p.description, DataSpec(**p.data.to_dict()), ModelConfig.from_dict(p.model.to_dict()),
                  TrainConfig.from_dict(p.train.to_dict()), p.target_accuracy)


def train_preset(name: str, *, on_progress: ProgressFn | None = None, **train_overrides) -> tuple[TrainResult, tuple]:
    """Train a preset (optionally overriding TrainConfig fields, e.g. ``seed=3``).

    Returns ``(result, (X_train, X_test, y_train, y_test))``.
    """
    p = get_preset(name)
    tc = p.train.replace(**train_overrides) if train_overrides else p.train
    data = p.data.load()
    Xtr, Xte, ytr, yte = data
    return train(p.model, tc, Xtr, ytr, Xte, yte, on_progress=on_progress), data
