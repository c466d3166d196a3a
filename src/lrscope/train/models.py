"""Models for the reference runner: ``build_model(name, input_shape, num_classes)``.  Your own model comes
from a factory instead (``--model PKG.MODULE:FACTORY``, :mod:`lrscope.train.factories`).

- ``mlp``: flatten, two hidden layers of 128 ReLU units (no normalisation, no dropout).
- ``cnn``: a small convolutional net (two 3x3 conv layers, max-pool when the image is large enough, global
  average pool to 2x2, two linear layers); no batch norm and no dropout, so a step depends only on the batch.
- ``resnet20``/``resnet32``/``resnet56``: the CIFAR ResNets of He et al. 2016 ("Deep Residual Learning for
  Image Recognition", section 4.2): a 3x3 conv with 16 channels, then 3 stages of n basic blocks (n = 3, 5, 9;
  depth 6n+2) with 16, 32, 64 channels, stride 2 at the start of stages 2 and 3, global average pooling and a
  linear layer. Shortcuts are **option A** (the paper's CIFAR choice): identity, and where the shape changes,
  stride-2 subsampling with zero-padded extra channels (no parameters).  Any input size >= 4x4 works (8x8
  digits included).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import UserError

MODELS = ("cnn", "mlp", "resnet20", "resnet32", "resnet56")
_RESNET_BLOCKS = {"resnet20": 3, "resnet32": 5, "resnet56": 9}


def build_model(name: str, input_shape: tuple[int, ...], num_classes: int) -> nn.Module:
    """A freshly initialised model (initialisation uses torch's global RNG: seed it first)."""
    key = str(name).lower()
    shape = tuple(int(d) for d in input_shape)
    if key == "mlp":
        return MLP(math.prod(shape), num_classes)
    if key == "cnn" or key in _RESNET_BLOCKS:
        if len(shape) == 1:
            raise UserError(
                f"model {name} needs image inputs (C, H, W); this data has flat vectors of "
                f"size {shape[0]}; use --model mlp"
            )
        if len(shape) != 3 or min(shape[1:]) < 4:
            raise UserError(f"model {name} needs images of at least 4x4 pixels; got input shape {shape}")
        if key == "cnn":
            return SmallCNN(shape[0], num_classes)
        return CifarResNet(_RESNET_BLOCKS[key], shape[0], num_classes)
    raise UserError(f"unknown model {name!r}; expected one of {', '.join(MODELS)}, or PKG.MODULE:FACTORY for "
                    f"your own")


class MLP(nn.Module):
    def __init__(self, in_features: int, num_classes: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x):
        return self.net(x)


class SmallCNN(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, width: int = 16):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.fc1 = nn.Linear(2 * width * 4, 64)
        self.fc2 = nn.Linear(64, num_classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        if min(x.shape[-2:]) >= 8:
            x = F.max_pool2d(x, 2)
        x = F.relu(self.conv2(x))
        x = F.adaptive_avg_pool2d(x, 2).flatten(1)
        return self.fc2(F.relu(self.fc1(x)))


class BasicBlock(nn.Module):
    """Two 3x3 conv + BN layers with an option-A shortcut (He et al. 2016, figure 2 and section 4.2)."""

    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride = stride
        self.pad = planes - in_planes

    def shortcut(self, x):
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.pad:
            x = F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return x

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, blocks_per_stage: int, in_channels: int, num_classes: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        layers, in_planes = [], 16
        for stage, planes in enumerate((16, 32, 64)):
            for i in range(blocks_per_stage):
                stride = 2 if stage > 0 and i == 0 else 1
                layers.append(BasicBlock(in_planes, planes, stride))
                in_planes = planes
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        x = self.layers(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
