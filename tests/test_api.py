"""The public API of lrscope/__init__.py: every name resolves to its home, `import lrscope` stays light, and the
0.1 module names are the probes' own modules."""

from __future__ import annotations

import subprocess
import sys

import lrscope


def test_every_public_name_resolves_to_its_home():
    for name, (module, attribute) in lrscope._LAZY.items():
        value = getattr(lrscope, name)
        assert value is getattr(sys.modules[module], attribute), name
    assert sorted(lrscope.__all__) == sorted(["__version__", *lrscope._LAZY])


def test_the_reference_runner_is_called_through_its_package():
    import lrscope.train
    import lrscope.train.config
    import lrscope.train.loop

    assert lrscope.train.train is lrscope.train.loop.train
    assert lrscope.train.TrainConfig is lrscope.TrainConfig is lrscope.train.config.TrainConfig


def test_import_lrscope_loads_neither_torch_nor_matplotlib():
    code = "import sys, lrscope; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_the_old_module_names_are_the_probes_modules():
    import lrscope.curvature as curvature
    import lrscope.landscape as landscape

    import lrscope.probes.curvature
    import lrscope.probes.landscape

    assert landscape is lrscope.probes.landscape and curvature is lrscope.probes.curvature
    assert landscape.plane is lrscope.plane and curvature.top_eigenvalues is lrscope.top_eigenvalues
