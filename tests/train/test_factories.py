"""--model/--data PKG.MODULE:FACTORY: which text is a reference, resolving and calling it (every way it can fail
is one line), what a data factory may return and how it becomes the runner's arrays, and the rule that a run
directory never names code lrscope imports."""

from __future__ import annotations

import sys
import textwrap
import uuid

import numpy as np
import pytest
import torch

from lrscope.errors import UserError
from lrscope.train import factories
from lrscope.train.config import TrainConfig, data_and_model
from lrscope.train.user_data import data_from_factory


@pytest.fixture
def module(tmp_path, monkeypatch):
    """write(source) -> the name of a fresh module in the working directory (tmp_path), forgotten afterwards."""
    monkeypatch.chdir(tmp_path)
    names = []

    def write(source: str) -> str:
        name = f"user_{uuid.uuid4().hex[:10]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        names.append(name)
        return name

    yield write
    for name in names:
        sys.modules.pop(name, None)


NET = textwrap.dedent("""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, Dataset, IterableDataset, SubsetRandomSampler, TensorDataset

    g = torch.Generator().manual_seed(0)
    X = torch.randn(60, 5, generator=g)
    Y = (X[:, 0] > 0).long() + (X[:, 1] > 0).long()

    def make(num_classes, input_shape):
        return nn.Sequential(nn.Linear(input_shape[0], 16), nn.ReLU(), nn.Linear(16, num_classes))

    def plain():
        return nn.Linear(5, 3)

    def pairs():
        return TensorDataset(X[:50], Y[:50]), TensorDataset(X[50:], Y[50:])
""")


# ---------------------------------------------------------------- which text is a reference


@pytest.mark.parametrize("text, option, expected", [
    ("mymodels:make", "--model", True),
    ("pkg.sub.mod:Factory.build", "--model", True),
    ("cnn", "--model", False),
    ("npz:data.npz", "--data", False),
    ("NPZ:data", "--data", False),
    ("synthetic:n=200,dim=4", "--data", False),
    ("folder:images", "--data", False),
    ("cifar10:/data", "--data", False),
    ("digits", "--data", False),
    ("mypkg.npz:load", "--data", True),
    ("mydata:load", "--data", True),
])
def test_the_built_in_forms_keep_their_meaning(text, option, expected):
    assert factories.is_factory(text, option) is expected


@pytest.mark.parametrize("text", ["my-models:make", "mymodels:", ":make", "a:b:c", "mod:1x"])
def test_a_malformed_reference_is_refused_before_anything_is_imported(text):
    with pytest.raises(UserError, match="is not PKG.MODULE:FACTORY"):
        TrainConfig(model=text).validate()


def test_built_in_data_still_loads_by_its_colon_form(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.random.default_rng(0).normal(size=(40, 3)), y=np.arange(40) % 2)
    bundle, model = data_and_model(TrainConfig(data=f"npz:{tmp_path / 'd.npz'}", model="mlp"))
    assert bundle.n_train == 32 and bundle.input_shape == (3,)
    bundle, _ = data_and_model(TrainConfig(data="synthetic:n=50,dim=4,classes=3", model="mlp"))
    assert bundle.input_shape == (4,) and bundle.num_classes == 3


# ---------------------------------------------------------------- resolving and calling: one line each


def test_a_module_in_the_working_directory_is_found_and_given_the_shape(module):
    name = module(NET)
    torch.manual_seed(0)
    bundle, model = data_and_model(TrainConfig(data=f"{name}:pairs", model=f"{name}:make"))
    assert model[0].in_features == 5 and model[2].out_features == bundle.num_classes == 3
    assert bundle.n_train == 50 and bundle.val_y.shape == (10,)


def test_a_factory_without_those_parameters_is_called_bare(module):
    name = module(NET)
    _, model = data_and_model(TrainConfig(data=f"{name}:pairs", model=f"{name}:plain"))
    assert isinstance(model, torch.nn.Linear)


def test_a_missing_module_names_itself_and_sys_path_0(module, tmp_path):
    with pytest.raises(UserError) as error:
        factories.resolve(factories.parse_factory("no_such_module_xyz:make", "--model"))
    text = str(error.value)
    assert "no module named 'no_such_module_xyz'" in text and str(tmp_path) in text


def test_a_module_raising_on_import_gives_its_error_without_a_traceback(module):
    name = module("raise RuntimeError('GPU not found')\n")
    with pytest.raises(UserError, match=r"importing .* raised RuntimeError: GPU not found") as error:
        factories.resolve(factories.parse_factory(f"{name}:make", "--model"))
    assert error.value.__cause__ is None and error.value.__suppress_context__


def test_a_missing_dependency_of_the_module_is_not_called_the_module_missing(module):
    name = module("import not_installed_pkg_q\n")
    with pytest.raises(UserError, match="a module it imports is missing"):
        factories.resolve(factories.parse_factory(f"{name}:make", "--model"))


def test_a_syntax_error_names_the_file_and_line(module):
    name = module("def make(:\n")
    with pytest.raises(UserError, match=r"SyntaxError in .*line 1"):
        factories.resolve(factories.parse_factory(f"{name}:make", "--model"))


def test_a_missing_attribute_lists_what_the_module_has(module):
    name = module(NET)
    with pytest.raises(UserError, match=r"has no attribute 'mak'; its callables: make, plain, pairs"):
        factories.resolve(factories.parse_factory(f"{name}:mak", "--model"))


def test_something_not_callable_is_refused(module):
    name = module("WIDTH = 3\n")
    with pytest.raises(UserError, match="is a int, not a callable"):
        factories.resolve(factories.parse_factory(f"{name}:WIDTH", "--model"))


def test_a_factory_raising_gives_the_call_and_the_error(module):
    name = module("def make():\n    raise ValueError('width must be even')\n")
    with pytest.raises(UserError, match=r"calling .*:make\(\) raised ValueError: width must be even"):
        factories.model_from_factory(f"{name}:make", (5,), 3)


def test_a_factory_needing_other_arguments_says_how_factories_are_called(module):
    name = module("def make(width):\n    pass\n")
    with pytest.raises(UserError, match="missing a required argument: 'width'.*called with no arguments"):
        factories.model_from_factory(f"{name}:make", (5,), 3)


def test_a_model_factory_returning_something_else_says_what_came(module):
    name = module("def make():\n    return {'w': 1}\n")
    with pytest.raises(UserError, match="returned a dict; expected a torch.nn.Module"):
        factories.model_from_factory(f"{name}:make", (5,), 3)


def test_what_the_users_code_prints_goes_to_stderr(module, capsys):
    name = module("print('hello from import')\ndef make():\n    print('hello from call')\n"
                  "    import torch\n    return torch.nn.Linear(5, 3)\n")
    factories.model_from_factory(f"{name}:make", (5,), 3)
    captured = capsys.readouterr()
    assert captured.out == "" and "hello from import" in captured.err and "hello from call" in captured.err


def test_a_model_that_does_not_fit_the_data_is_one_line(module):
    name = module(NET + textwrap.dedent("""
        def wrong_width():
            return nn.Linear(7, 3)
        def too_few_classes():
            return nn.Linear(5, 2)
        def dict_out():
            class M(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.f = nn.Linear(5, 3)
                def forward(self, x):
                    return {"logits": self.f(x)}
            return M()
    """))
    cases = [("wrong_width", "cannot take the data .* raised RuntimeError"),
             ("too_few_classes", r"needs shape \[2, >= 3\]"),
             ("dict_out", "returned a dict for a batch .* wrap the model")]
    for factory, match in cases:
        with pytest.raises(UserError, match=match):
            data_and_model(TrainConfig(data=f"{name}:pairs", model=f"{name}:{factory}"))


# ---------------------------------------------------------------- what a data factory may return


DATA = NET + textwrap.dedent("""
    class Squares(Dataset):
        def __len__(self):
            return 30
        def __getitem__(self, i):
            return torch.full((2, 3, 3), float(i)), i % 3

    class Stream(IterableDataset):
        def __iter__(self):
            yield X[0], Y[0]

    def as_dict():
        return {"train": TensorDataset(X[:50], Y[:50]), "validation": TensorDataset(X[50:], Y[50:]),
                "test": TensorDataset(X[:1], Y[:1])}

    def arrays():
        return (X[:50].numpy(), Y[:50].numpy()), (X[50:], Y[50:])

    def train_only():
        return Squares()

    def subset_loaders():
        ds = TensorDataset(X, Y)
        return (DataLoader(ds, batch_size=8, sampler=SubsetRandomSampler(list(range(0, 40))), drop_last=True),
                DataLoader(ds, batch_size=8, sampler=SubsetRandomSampler(list(range(40, 60)))))

    def stream():
        return Stream(), None

    def bare_pair():
        return X, Y

    def float_labels():
        return TensorDataset(X, Y.float()), None

    def ragged():
        class R(Dataset):
            def __len__(self):
                return 4
            def __getitem__(self, i):
                return torch.zeros(3 + (i == 2)), 0
        return R(), None

    def triples():
        return TensorDataset(X, Y, Y), None

    def tokens():
        return TensorDataset(torch.randint(0, 50, (40, 6), generator=g), Y[:40]), None
""")


def test_a_dict_with_validation_and_an_unused_test_split(module):
    name = module(DATA)
    bundle = data_from_factory(f"{name}:as_dict")
    assert bundle.n_train == 50 and bundle.val_y.shape == (10,)
    assert any("'test' split is not used" in n for n in bundle.notes)
    assert torch.equal(bundle.val_x, sys.modules[name].X[50:])


def test_arrays_and_tensors_come_through_unchanged(module):
    name = module(DATA)
    bundle = data_from_factory(f"{name}:arrays")
    source = sys.modules[name]
    assert torch.equal(bundle.train_x, source.X[:50]) and torch.equal(bundle.val_y, source.Y[50:])
    assert bundle.train_x.dtype == torch.float32


def test_a_dataset_alone_is_split_with_val_fraction_and_seed(module):
    name = module(DATA)
    a = data_from_factory(f"{name}:train_only", val_fraction=0.2, seed=1)
    b = data_from_factory(f"{name}:train_only", val_fraction=0.2, seed=2)
    assert a.n_train == 24 and a.val_y.shape == (6,) and a.input_shape == (2, 3, 3)
    assert not torch.equal(a.val_x, b.val_x)  # the seed picks the validation examples
    values = torch.cat([a.train_x[:, 0, 0, 0], a.val_x[:, 0, 0, 0]]).sort().values
    assert torch.equal(values, torch.arange(30, dtype=torch.float32))  # every example once, not standardised


def test_loaders_contribute_the_examples_their_samplers_pick(module):
    name = module(DATA)
    bundle = data_from_factory(f"{name}:subset_loaders")
    source = sys.modules[name]
    assert bundle.n_train == 40 and torch.equal(bundle.train_x, source.X[:40])  # drop_last does not drop any
    assert torch.equal(bundle.val_x, source.X[40:])


def test_integer_inputs_stay_integers(module):
    name = module(DATA)
    bundle = data_from_factory(f"{name}:tokens")
    assert bundle.train_x.dtype == torch.int64
    with pytest.raises(UserError, match="--augment needs floating-point inputs"):
        data_from_factory(f"{name}:tokens", augment=True)


@pytest.mark.parametrize("factory, match", [
    ("stream", "is an IterableDataset .* give a map-style Dataset"),
    ("bare_pair", r"return \(\(x, y\), None\)"),
    ("float_labels", "expected an integer class index"),
    ("ragged", r"example 2 has x of shape \[4\], example 0 \[3\]"),
    ("triples", "is a tuple of 3 items; expected an \\(x, y\\) pair"),
    ("plain", r"returned a Linear; expected \(train, val\)"),
    ("make", "cannot be called as .*missing a required argument: 'num_classes'"),
])
def test_data_it_cannot_use_is_one_line(module, factory, match):
    name = module(DATA)
    with pytest.raises(UserError, match=match):
        data_from_factory(f"{name}:{factory}")


def test_the_data_is_too_big_for_memory_is_refused_before_allocating(module, monkeypatch):
    import lrscope.validate

    name = module(DATA)
    monkeypatch.setattr(lrscope.validate, "available_memory", lambda: 1000)
    with pytest.raises(UserError, match="needs about .* of memory"):
        data_from_factory(f"{name}:train_only")


def test_random_transforms_give_the_same_data_wherever_it_is_rebuilt(module):
    name = module("""
        import torch
        from torch.utils.data import Dataset
        class Noisy(Dataset):
            def __len__(self):
                return 20
            def __getitem__(self, i):
                return torch.randn(4), i % 2
        def load():
            return Noisy(), None
        def net():
            return torch.nn.Linear(4, 2)
    """)
    config = TrainConfig(data=f"{name}:load", model=f"{name}:net", seed=3)
    torch.manual_seed(100)
    a, _ = data_and_model(config)
    after_both = torch.rand(1)
    torch.manual_seed(999)
    b, _ = data_and_model(config)
    assert torch.equal(a.train_x, b.train_x)  # seeded from config.seed, whatever the caller's generator
    torch.manual_seed(100)
    factories.model_from_factory(f"{name}:net", (4,), 2)
    assert torch.equal(after_both, torch.rand(1))  # reading the data drew nothing from the caller's generator


# ---------------------------------------------------------------- a run directory never names code we import


def test_a_run_built_by_a_factory_needs_the_same_reference():
    with pytest.raises(UserError, match=r"RUN's model was built by a.b:make \(your code\); lrscope never imports "
                                        r"code named by a run directory: pass --model a.b:make to use it"):
        factories.require_named("RUN", "a.b:make", "digits")
    with pytest.raises(UserError, match="model was built by a:m and its data by a:d .* pass --model a:m --data a:d"):
        factories.require_named("RUN", "a:m", "a:d")
    with pytest.raises(UserError, match="built by a:m \\(your code\\), but --model says b:m"):
        factories.require_named("RUN", "a:m", "digits", model="b:m")
    with pytest.raises(UserError, match="RUN's model is 'cnn', but --model says a:m"):
        factories.require_named("RUN", "cnn", "digits", model="a:m")
    factories.require_named("RUN", "a:m", "a:d", model="a:m", data=" a:d ")
    factories.require_named("RUN", "cnn", "npz:x.npz")
