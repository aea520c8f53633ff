"""Every model of the homework, built by name.

MLPs take a flat input (1 value for the simulated functions, 784 pixels for
MNIST); CNNs take 1x28x28 images. Classifiers return logits: cross-entropy on
logits is log-softmax followed by NLL loss.
"""

from collections.abc import Callable, Sequence

from torch import nn

MNIST_PIXELS = 28 * 28
N_CLASSES = 10

# conv layers shared by the Part 2 and Part 3 CNNs:
# conv 16 k3 p1, pool 2, conv 32 k3 p1, pool 2
SMALL_CONVS = (("conv", 16, 3, 1, 1), ("pool", 2, 2, 0), ("conv", 32, 3, 1, 1), ("pool", 2, 2, 0))

# fc widths of the 13 param-count CNNs (fc1, fc2, fc3)
PARAM_CNN_WIDTHS = (
    (10, 5, 5), (20, 10, 20), (30, 35, 20), (50, 50, 25), (100, 100, 50),
    (150, 128, 64), (250, 150, 70), (350, 150, 100), (500, 200, 128),
    (600, 250, 150), (800, 300, 200), (1000, 400, 300), (1024, 512, 512),
)


def mlp(widths: Sequence[int]) -> nn.Sequential:
    """Build a ReLU MLP through the given layer widths, input first, output last."""
    if len(widths) < 2:
        raise ValueError(f"an MLP needs at least input and output widths, got {list(widths)}")

    layers: list[nn.Module] = []
    if widths[0] == MNIST_PIXELS:
        layers.append(nn.Flatten())
    for i, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def cnn(features: Sequence[tuple], fc_widths: Sequence[int], dropout: float = 0.0) -> nn.Sequential:
    """Build a CNN for 1x28x28 images.

    `features` lists ("conv", out_channels, kernel, stride, padding) and
    ("pool", kernel, stride, padding) layers; every conv is followed by ReLU.
    `fc_widths` are the hidden fully connected widths; dropout, when nonzero,
    follows each hidden fully connected layer. The output layer has 10 logits.
    """
    layers: list[nn.Module] = []
    channels, size = 1, 28
    for layer in features:
        kind, *args = layer
        if kind == "conv":
            out, kernel, stride, padding = args
            layers += [nn.Conv2d(channels, out, kernel, stride, padding), nn.ReLU()]
            channels = out
        elif kind == "pool":
            kernel, stride, padding = args
            layers.append(nn.MaxPool2d(kernel, stride, padding))
        else:
            raise ValueError(f"unknown feature layer {kind!r}; expected 'conv' or 'pool'")
        size = (size + 2 * padding - kernel) // stride + 1

    layers.append(nn.Flatten())
    n_in = channels * size * size
    for width in fc_widths:
        layers += [nn.Linear(n_in, width), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        n_in = width
    layers.append(nn.Linear(n_in, N_CLASSES))
    return nn.Sequential(*layers)


def _mnist_mlp(*hidden: int) -> Callable[[], nn.Module]:
    return lambda: mlp((MNIST_PIXELS, *hidden, N_CLASSES))


def _sim_mlp(*hidden: int) -> Callable[[], nn.Module]:
    return lambda: mlp((1, *hidden, 1))


def _small_cnn(*fc: int) -> Callable[[], nn.Module]:
    return lambda: cnn(SMALL_CONVS, fc)


_CNN1_CONVS = (("conv", 8, 3, 1, 1), ("pool", 2, 2, 0), ("conv", 16, 3, 1, 1), ("pool", 2, 2, 0))
_CNN2_CONVS = (("conv", 16, 4, 2, 2), ("pool", 2, 3, 1), ("conv", 32, 3, 1, 1))
_PART1_DROPOUT = 0.2

BUILDERS: dict[str, Callable[[], nn.Module]] = {
    # Part 1.1: simulated functions, about 571 parameters each
    "sim-1": _sim_mlp(5, 10, 10, 10, 10, 10, 5),
    "sim-2": _sim_mlp(10, 18, 15, 4),
    "sim-3": _sim_mlp(190),
    # Part 1.2: MNIST
    "dnn-1": _mnist_mlp(128, 64, 32, 16),
    "dnn-2": _mnist_mlp(16, 32, 32, 32, 32, 32, 16),
    "dnn-3": _mnist_mlp(512),
    "cnn-1": lambda: cnn(_CNN1_CONVS, (512,), _PART1_DROPOUT),
    "cnn-2": lambda: cnn(_CNN2_CONVS, (512, 256, 128), _PART1_DROPOUT),
    "cnn-3": lambda: cnn(_CNN1_CONVS, (120, 80, 50, 24), _PART1_DROPOUT),
    # Part 2
    "pca-mlp": _mnist_mlp(50, 30),
    "gradnorm-mlp": _sim_mlp(170, 200),
    "gradnorm-cnn": _small_cnn(512, 256),
    # Part 3
    "random-labels-mlp": _mnist_mlp(1024, 512, 64),
    **{f"param-cnn-{i + 1:02d}": _small_cnn(*w) for i, w in enumerate(PARAM_CNN_WIDTHS)},
    "flat-cnn": _small_cnn(200, 100, 14),
    "sensitivity-cnn": _small_cnn(1000, 500, 124),
}

MODEL_NAMES = tuple(BUILDERS)


def build_model(name: str) -> nn.Module:
    """Build the model registered under `name` with PyTorch's default initialization."""
    try:
        builder = BUILDERS[name]
    except KeyError:
        raise ValueError(
            f"unknown model name {name!r}; expected one of: {', '.join(MODEL_NAMES)}"
        ) from None
    return builder()


def count_parameters(model: nn.Module) -> int:
    """Return the number of trainable parameters of `model`."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
