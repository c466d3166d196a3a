"""The runner's models: input kinds, the ResNet depths of the paper, bad names."""

from __future__ import annotations

import pytest
import torch

from lrscope.errors import UserError
from lrscope.train.models import build_model


@pytest.mark.parametrize("name", ["cnn", "mlp", "resnet20"])
def test_models_take_8x8_digits(name):
    model = build_model(name, (1, 8, 8), 10)
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)


def test_resnet_depths_and_parameter_count_follow_the_paper():
    counts = {
        n: sum(p.numel() for p in build_model(n, (3, 32, 32), 10).parameters())
        for n in ("resnet20", "resnet32", "resnet56")
    }
    # He et al. 2016, table 6: 0.27M, 0.46M, 0.85M
    assert abs(counts["resnet20"] / 0.27e6 - 1) < 0.03
    assert abs(counts["resnet32"] / 0.46e6 - 1) < 0.03
    assert abs(counts["resnet56"] / 0.85e6 - 1) < 0.03


def test_unknown_model_and_wrong_input_kind_are_user_errors():
    with pytest.raises(UserError, match="cnn, mlp, resnet20"):
        build_model("vgg", (1, 8, 8), 10)
    with pytest.raises(UserError, match="use --model mlp"):
        build_model("cnn", (8,), 10)
