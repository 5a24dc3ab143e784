"""A Hugging Face BertModel (4 layers, hidden 256, 4 heads, intermediate 1024; built from
a BertConfig, random weights, nothing downloaded) with an attention mask that pads part
of the batch matches PyTorch eager.  Skipped, with the reason, without ``transformers``."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the PyTorch frontend needs the [torch] extra "
                                           "(pip install -e '.[torch]')")
transformers = pytest.importorskip("transformers", reason="the BertModel test needs the "
                                   "transformers package (pip install transformers)")

import tc  # noqa: E402


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_bert_model_with_padding_mask_matches_eager():
    torch.manual_seed(0)
    config = transformers.BertConfig(num_hidden_layers=4, hidden_size=256,
                                     num_attention_heads=4, intermediate_size=1024)
    model = transformers.BertModel(config).eval()
    ids = torch.randint(0, config.vocab_size, (2, 24))
    mask = torch.ones(2, 24, dtype=torch.int64)
    mask[1, 15:] = 0  # the second sequence is 15 tokens, padded to 24
    compiled = tc.compile(model, example_inputs=(ids, mask))
    assert [s.name for s in compiled.output_specs] == ["last_hidden_state", "pooler_output"]

    ids2 = torch.randint(0, config.vocab_size, (2, 24))  # new tokens, same padding
    got = compiled.run([ids2.numpy(), mask.numpy()])
    with torch.no_grad():
        want = model(ids2, mask)
    np.testing.assert_allclose(got[0], want.last_hidden_state.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got[1], want.pooler_output.numpy(), rtol=1e-4, atol=1e-4)
    # the mask matters: attending to the padded tail changes the second sequence's states
    mask2 = mask.clone()
    mask2[1, 15:] = 1
    unmasked = compiled.run([ids2.numpy(), mask2.numpy()])[0]
    assert np.abs(unmasked[1, :15] - got[0][1, :15]).max() > 1e-3
