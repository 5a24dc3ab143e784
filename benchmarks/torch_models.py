"""tc against PyTorch eager on nn.Modules, side by side in one process.

    python benchmarks/torch_models.py [--models resnet18,bert] [--threads 1,2] [--repeat 20]

Models (random weights, float32, batch 1): the ResNet-18 and MLP of
``tests/frontends/torch_models.py`` (224x224 input), a 2-layer ``nn.TransformerEncoder``
(d_model 128, 4 heads, 64 tokens) and, when ``transformers`` is installed, a BertModel of
4 layers, hidden 256, 4 heads (128 tokens, the last 28 padded).  tc is compiled through
``tc.compile(module, example_inputs=...)``; PyTorch runs the module in eval mode under
``torch.inference_mode()`` with ``torch.set_num_threads`` set to the same count.  The two
take turns (``timing.interleaved_medians``); the table gives median latencies, their
ratio (tc / torch: below 1 means tc is faster), tc's compile time split into
torch.export, lowering to tc's graph and the rest of the build, and the largest
difference between the two engines' outputs.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))
from timing import interleaved_medians  # noqa: E402

from tests.frontends.torch_models import MLP, ResNet18, randomize_batchnorm  # noqa: E402


def _resnet18():
    return randomize_batchnorm(ResNet18()), (torch.randn(1, 3, 224, 224),)


def _mlp():
    return MLP(), (torch.randn(1, 64),)


def _transformer_encoder():
    layer = torch.nn.TransformerEncoderLayer(128, 4, 512, batch_first=True, dropout=0.0)
    encoder = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
    return encoder, (torch.randn(1, 64, 128),)


def _bert():
    import transformers

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    config = transformers.BertConfig(num_hidden_layers=4, hidden_size=256,
                                     num_attention_heads=4, intermediate_size=1024)
    mask = torch.ones(1, 128, dtype=torch.int64)
    mask[:, 100:] = 0
    return transformers.BertModel(config), (torch.randint(0, config.vocab_size, (1, 128)), mask)


MODELS = {"resnet18": _resnet18, "mlp": _mlp, "transformer_encoder": _transformer_encoder,
          "bert": _bert}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", default=f"1,{os.cpu_count()}")
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    import tc

    print(f"{'model':<20} {'threads':>7} {'tc ms':>8} {'torch ms':>9} {'tc/torch':>8} "
          f"{'export s':>8} {'lower s':>7} {'build s':>7} {'max err':>8}")
    for name in args.models.split(","):
        torch.manual_seed(0)
        try:
            module, inputs = MODELS[name]()
        except ImportError as e:
            print(f"{name:<20} skipped: {e}")
            continue
        module = module.eval()
        from tc.frontends.torch import export_program
        from tc.frontends.torch.lowering import Lowering

        t0 = time.perf_counter()
        program = export_program(module, inputs)
        t1 = time.perf_counter()
        graph = Lowering(program).run()
        t2 = time.perf_counter()
        compiled = tc.compile(program)  # the lowering again, then the build
        build_s = time.perf_counter() - t2 - (t2 - t1)
        arrays = [t.numpy() for t in inputs]
        del graph
        for threads in [int(t) for t in args.threads.split(",")]:
            torch.set_num_threads(threads)
            compiled.set_num_threads(threads)
            with torch.inference_mode():
                want = torch.utils._pytree.tree_leaves(module(*inputs))
                err = max(float(np.abs(g - w.numpy()).max())
                          for g, w in zip(compiled.run(arrays), want))

                def run_torch():
                    module(*inputs)

                medians = interleaved_medians({"tc": lambda: compiled.run(arrays),
                                               "torch": run_torch}, args.repeat,
                                              settle=0.05 if threads > 1 else 0.0)
            tc_ms, torch_ms = medians["tc"] * 1e3, medians["torch"] * 1e3
            print(f"{name:<20} {threads:>7} {tc_ms:>8.2f} {torch_ms:>9.2f} "
                  f"{tc_ms / torch_ms:>8.2f} {t1 - t0:>8.2f} {t2 - t1:>7.2f} {build_s:>7.2f} "
                  f"{err:>8.1e}", flush=True)


if __name__ == "__main__":
    main()
