"""Building blocks shared by the sparse networks: normalisation, activation, residual block.

Every block maps a ``SparseTensor`` to a ``SparseTensor`` on the same coordinates, so the
networks only change resolution in their explicit down/up-sampling layers.
"""

from __future__ import annotations

from torch import nn

from kernels import FeatureWise, SparseBatchNorm, SparseTensor, SubMConv

NORMS = ("batch", "none")
ACTIVATIONS = ("relu", "leaky_relu", "gelu", "silu")


def make_activation(name: str) -> nn.Module:
    if name == "relu":
        module: nn.Module = nn.ReLU()
    elif name == "leaky_relu":
        module = nn.LeakyReLU(0.1)
    elif name == "gelu":
        module = nn.GELU()
    elif name == "silu":
        module = nn.SiLU()
    else:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return FeatureWise(module)


def make_norm(name: str, channels: int) -> nn.Module:
    if name == "batch":
        return SparseBatchNorm(channels)
    if name == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalisation {name!r}; choose one of {', '.join(NORMS)}")


class NormAct(nn.Sequential):
    """Normalisation then activation: what precedes every convolution (pre-activation)."""

    def __init__(self, channels: int, norm: str, activation: str):
        super().__init__(make_norm(norm, channels), make_activation(activation))


class ResidualBlock(nn.Module):
    """Pre-activation residual block: (norm, act, conv) twice plus a shortcut.

    Pre-activation keeps the identity path free of nonlinearities, which lets the networks
    train without normalisation ("none") too. Dropout sits between the two convolutions.
    """

    def __init__(self, dim: int, in_channels: int, out_channels: int, kernel_size: int,
                 norm: str, activation: str, dropout: float):
        super().__init__()
        self.pre1 = NormAct(in_channels, norm, activation)
        self.conv1 = SubMConv(dim, in_channels, out_channels, kernel_size=kernel_size)
        self.pre2 = NormAct(out_channels, norm, activation)
        self.dropout = FeatureWise(nn.Dropout(dropout)) if dropout > 0 else nn.Identity()
        self.conv2 = SubMConv(dim, out_channels, out_channels, kernel_size=kernel_size)
        self.shortcut = (nn.Identity() if in_channels == out_channels
                         else FeatureWise(nn.Linear(in_channels, out_channels, bias=False)))

    def forward(self, x: SparseTensor) -> SparseTensor:
        y = self.conv1(self.pre1(x))
        y = self.conv2(self.dropout(self.pre2(y)))
        return y.replace(y.feats + self.shortcut(x).feats)


def stage(dim: int, in_channels: int, out_channels: int, blocks: int, kernel_size: int,
          norm: str, activation: str, dropout: float) -> nn.Sequential:
    """``blocks`` residual blocks; the first changes the channel count."""
    layers = [ResidualBlock(dim, in_channels, out_channels, kernel_size, norm, activation, dropout)]
    layers += [ResidualBlock(dim, out_channels, out_channels, kernel_size, norm, activation,
                             dropout) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)
