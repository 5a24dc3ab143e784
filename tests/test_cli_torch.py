"""tc-build on PyTorch models: ``MODULE:CALLABLE`` returning an nn.Module (exported on
random inputs of the given shapes and dtypes) and saved ``torch.export`` programs (.pt2)
build artifacts that match PyTorch eager; mistakes give one clear message and exit code 1;
the summary times torch.export and tc's lowering.  Skipped, with the reason, when torch is
not installed (the [torch] extra)."""
import re
import sys
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="tc-build on PyTorch models needs the [torch] "
                                           "extra (pip install -e '.[torch]')")

import tc  # noqa: E402
from tc.cli import build_main  # noqa: E402

MODELS = '''
import torch
from torch import nn


def small_cnn():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5))
    bn = model[1]
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 1.5)
    return model


class Tagger(nn.Module):
    """Token ids and a per-token scale in, scores out."""

    def __init__(self):
        super().__init__()
        self.embed, self.head = nn.Embedding(100, 16), nn.Linear(16, 4)

    def forward(self, ids, scale):
        return self.head(self.embed(ids)) * scale


def tagger():
    torch.manual_seed(1)
    return Tagger()


def not_a_model():
    return 42
'''


NAME = "tc_cli_test_models"


@pytest.fixture
def models(tmp_path, monkeypatch):
    """The name of a module written into tmp_path, the current directory, that defines
    the models; forgotten by the import system afterwards."""
    (tmp_path / f"{NAME}.py").write_text(textwrap.dedent(MODELS))
    monkeypatch.chdir(tmp_path)
    yield NAME
    sys.modules.pop(NAME, None)


def _eager(folder, name):
    """The model the function ``name`` of the models file in ``folder`` makes, in eval
    mode (the file loaded on its own, apart from the module tc-build imported)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("tc_cli_test_eager", folder / f"{NAME}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)().eval()


def _check(artifact, model, *inputs):
    with torch.no_grad():
        want = model(*inputs)
    got, = tc.load(artifact).run([t.numpy() for t in inputs])
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-5)


def test_module_callable_builds_and_matches_eager(models, tmp_path, capsys):
    assert build_main([f"{models}:small_cnn", "--input-shape", "2,3,16,16", "-o", "cnn.so"]) == 0
    _check(tmp_path / "cnn.so", _eager(tmp_path, "small_cnn"), torch.randn(2, 3, 16, 16))
    out = capsys.readouterr().out
    assert re.search(r"frontend: torch\.export \d+\.\d+ s, lowering to tc \d+\.\d+ s", out), out


def test_token_ids_by_parameter_name_and_dtype(models, tmp_path):
    argv = [f"{models}:tagger", "--input-shape", "scale=2,1,1", "--input-shape", "ids=2,7",
            "--input-dtype", "ids=int64"]
    assert build_main(argv) == 0
    ids = torch.randint(0, 100, (2, 7))
    _check(tmp_path / "tagger.so", _eager(tmp_path, "tagger"), ids, torch.randn(2, 1, 1))


def test_saved_export_program(models, tmp_path):
    model = _eager(tmp_path, "small_cnn")
    program = torch.export.export(model, (torch.randn(1, 3, 8, 8),))
    torch.export.save(program, tmp_path / "cnn.pt2")
    assert build_main(["cnn.pt2"]) == 0
    _check(tmp_path / "cnn.so", model, torch.randn(1, 3, 8, 8))


def test_report_lists_frontend_phases_first(models, tmp_path):
    model = _eager(tmp_path, "small_cnn")
    module = tc.compile(model, example_inputs=(torch.randn(1, 3, 8, 8),))
    assert list(module.build_report.seconds)[:3] == ["export", "import", "passes"]


@pytest.mark.parametrize("argv, message", [
    (["{m}:not_a_model"], "{m}:not_a_model() returned int (42), not a torch.nn.Module"),
    (["{m}:small_cnn"], "is a PyTorch model: give the shape of each forward argument (input)"),
    (["{m}:tagger", "--input-shape", "2,7"], "no shape for forward argument(s) scale"),
    (["{m}:tagger", "--input-shape", "2,7", "--input-shape", "x=1"],
     "forward has no parameter 'x' (it takes ids, scale)"),
    (["no_such_module:small_cnn", "--input-shape", "1,3,8,8"], "no module named 'no_such_module'"),
    (["{m}:resnet", "--input-shape", "1,3,8,8"], "has no attribute 'resnet'"),
    (["{m}:small_cnn", "--input-shape", "1,4,8,8"],
     "expected input[1, 4, 8, 8] to have 3 channels"),
    (["missing.pt2"], "torch.export file 'missing.pt2' does not exist"),
])
def test_mistakes_give_one_message_and_exit_code_1(models, capsys, argv, message):
    assert build_main([a.format(m=models) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tc-build: error: ") and message.format(m=models) in err, err


def test_without_torch_says_what_to_install(models, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # find_spec("torch") is None then
    assert build_main([f"{models}:small_cnn", "--input-shape", "1,3,8,8"]) == 1
    assert "pip install 'tc[torch]'" in capsys.readouterr().err
