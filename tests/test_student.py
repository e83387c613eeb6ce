import random

import pytest
import torch

from kgdistill.distill import DistillConfig, batch_loss
from kgdistill.graph import KnowledgeGraph
from kgdistill.serializer import TrainingRecord
from kgdistill.student import ADAPTATION_MODES, Student, StudentConfig, adapt, train_tokenizer
from kgdistill.training import TrainArgs
from kgdistill.verify import verify_relation_path
from kgdistill.vocabulary import RelationVocabulary

RECORD = TrainingRecord("1", "question: who directed X path:", ["a"], ["b"], hard=["<r:directed_by><eop>"],
                        soft=[{"path": "<r:directed_by><eop>", "prob": 0.8},
                              {"path": "<r:~starred_actors><eop>", "prob": 0.2}])


def tiny_student(relations=("directed_by", "starred_actors"), **kw):
    torch.manual_seed(0)
    return Student.create(RelationVocabulary(relations), ["question: who directed X path:", "what did X star in"],
                          StudentConfig(n_layer=1, n_embd=16, n_head=2, vocab_size=300, **kw))


def test_adapters_table_lists_the_modes():
    from kgdistill.student import ADAPTERS

    assert tuple(ADAPTERS) == ADAPTATION_MODES


def test_path_tokens_are_single_tokens():
    st = tiny_student()
    ids = st.tokenizer("<r:~starred_actors><eop>", add_special_tokens=False)["input_ids"]
    assert ids == [int(st.path_token_ids[3]), st.end_id]


def test_alpha_one_is_plain_cross_entropy():
    st = tiny_student()
    st.model.eval()  # no dropout: both losses see the same forward
    got = batch_loss(st, [RECORD], DistillConfig(alpha=1.0), [True])
    enc = st.encode_pairs([RECORD.prompt], RECORD.hard)
    labels = enc["input_ids"].masked_fill(~enc["labels_mask"], -100)
    want = st.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], labels=labels).loss
    assert float(got) == pytest.approx(float(want), rel=1e-5)
    # alpha = 0 uses the soft targets only, and differs.
    assert float(batch_loss(st, [RECORD], DistillConfig(alpha=0.0), [True])) != pytest.approx(float(want))


@pytest.fixture(scope="module")
def base_checkpoint(tmp_path_factory):
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = train_tokenizer(["who directed X", "inverse of starred actors", "directed by"], [], 300)
    cfg = GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=2, n_head=2,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    d = tmp_path_factory.mktemp("base")
    GPT2LMHeadModel(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def llama_checkpoint(tmp_path_factory):
    return _tiny_llama_checkpoint(tmp_path_factory.mktemp("llama"))


@pytest.mark.parametrize("mode", ADAPTATION_MODES)
@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_adaptation_modes_train_save_reload(base_checkpoint, llama_checkpoint, tmp_path, mode, arch):
    """Every adaptation mode, on GPT-2 and on a tiny model of SmolLM2's architecture:
    a few training steps lower the loss, the saved student reloads with the same loss
    and decodes the same constrained paths through the KV-cache decoder."""
    from kgdistill.decoding import decode_paths_cached

    torch.manual_seed(0)
    base = base_checkpoint if arch == "gpt2" else llama_checkpoint
    st = Student.create(RelationVocabulary(["directed_by", "starred_actors"]), [],
                        StudentConfig(base_model=str(base), max_length=64))
    st.model.eval()
    adapt(st, mode)
    assert st.adaptation == mode
    params = [p for p in st.model.parameters() if p.requires_grad]
    total = sum(p.numel() for p in st.model.parameters())
    if mode != "full":
        assert sum(p.numel() for p in params) < total / 2
    opt = torch.optim.AdamW(params, lr=1e-2)
    config = DistillConfig(alpha=0.5)
    before = float(batch_loss(st, [RECORD], config, [True]))
    for _ in range(3):
        opt.zero_grad()
        batch_loss(st, [RECORD], config, [True]).backward()
        opt.step()
    after = float(batch_loss(st, [RECORD], config, [True]))
    assert after < before
    kg = KnowledgeGraph.from_triples([("X", "directed_by", "d"), ("f", "starred_actors", "X"), ("d", "directed_by", "e")])
    topics = [[kg.entity_id("X")], [kg.entity_id("d")]]
    prompts = [RECORD.prompt, "question: what did X star in path:"]
    decoded = decode_paths_cached(st, prompts, 3, 2, kg, topics)
    st.save(tmp_path / mode)
    again = Student.load(tmp_path / mode)
    assert again.adaptation == ("full" if mode == "lora" else mode)  # LoRA is merged on save
    assert float(batch_loss(again, [RECORD], config, [True])) == pytest.approx(after, rel=1e-4)
    reloaded = decode_paths_cached(again, prompts, 3, 2, kg, topics)
    assert [[str(p.path) for p in q] for q in decoded] == [[str(p.path) for p in q] for q in reloaded]
    assert all(q for q in reloaded)
    for q, paths in zip(topics, reloaded):
        for p in paths:
            assert verify_relation_path(kg, kg.entity_label(q[0]), p.path).valid
    from transformers import AutoModelForCausalLM

    plain = AutoModelForCausalLM.from_pretrained(tmp_path / mode).eval()
    assert plain.get_input_embeddings().weight.shape[0] >= len(again.tokenizer)  # the path tokens are in it
    if mode in ("full", "lora"):  # the whole student, LoRA merged: the same logits without kgdistill
        ids = again.tokenizer(RECORD.prompt, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            torch.testing.assert_close(plain(ids).logits, again.model(ids).logits, rtol=1e-4, atol=1e-4)


def test_constrained_decoding_only_emits_valid_paths():
    """Property: on random small graphs, every constrained path verifies; the
    unconstrained mode of the same untrained student does emit invalid ones."""
    from kgdistill.decoding import decode_paths

    rng = random.Random(0)
    invalid_unconstrained = 0
    for trial in range(15):
        rels = [f"r{i}" for i in range(4)]
        triples = [(f"e{rng.randrange(12)}", rng.choice(rels), f"e{rng.randrange(12)}") for _ in range(18)]
        kg = KnowledgeGraph.from_triples(triples)
        st = Student.create(RelationVocabulary.from_graph(kg), ["question: what X path:"],
                            StudentConfig(n_layer=1, n_embd=16, n_head=2, vocab_size=280))
        torch.manual_seed(trial)
        for p in st.model.parameters():
            torch.nn.init.normal_(p, std=1.0)  # an arbitrary, confident student
        topics = [[kg.entity_id(triples[k][0])] for k in range(3)]
        prompts = ["question: what X path:"] * 3
        for paths, topic in zip(decode_paths(st, prompts, 4, 3, kg, topics), topics):
            assert paths, "a topic with edges always has a path"
            for p in paths:
                assert verify_relation_path(kg, kg.entity_label(topic[0]), p.path).valid, str(p.path)
            assert sum(p.prob for p in paths) == pytest.approx(1.0)
        for paths, topic in zip(decode_paths(st, prompts, 4, 3, None, topics), topics):
            invalid_unconstrained += sum(not verify_relation_path(kg, kg.entity_label(topic[0]), p.path).valid
                                         for p in paths)
    assert invalid_unconstrained > 0


def test_interrupted_training_resumes_from_its_checkpoint(tiny, tmp_path, monkeypatch):
    from kgdistill import distill
    from kgdistill.distill import train_student

    records = [RECORD, TrainingRecord("2", "question: what did X star in path:", ["a"], ["c"],
                                      hard=["<r:~starred_actors><eop>"])] * 3
    config = DistillConfig()
    args = TrainArgs(epochs=3, batch_size=2, patience=10, optimizer="adamw", lr=2e-3, max_grad_norm=1.0)
    trained = tiny_student()
    full = train_student(trained, tiny, records, [], config, 2, args, out_dir=tmp_path / "full",
                         progress=False)
    # validation during training decodes as the saved student will (the end token after 1 hop is forced:
    # the longest path in these records)
    loaded = Student.load(tmp_path / "full")
    assert (trained.hops, trained.longest_path) == (2, 1) == (loaded.hops, loaded.longest_path)
    original, calls = distill.batch_loss, []

    def interrupted(*args, **kw):
        calls.append(1)
        if len(calls) == 5:  # second batch of epoch 2
            raise KeyboardInterrupt
        return original(*args, **kw)

    monkeypatch.setattr(distill, "batch_loss", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_student(tiny_student(), tiny, records, [], config, 2, args, out_dir=tmp_path / "cut", progress=False)
    # the checkpoint holds tensors in safetensors and the rest in JSON: nothing to unpickle
    assert {f.name for f in (tmp_path / "cut" / "checkpoint").iterdir()} == {"tensors.safetensors", "state.json"}
    monkeypatch.setattr(distill, "batch_loss", original)
    resumed = train_student(tiny_student(), tiny, records, [], config, 2, args, out_dir=tmp_path / "cut",
                            progress=False)
    assert [c["train_loss"] for c in resumed["curve"]] == pytest.approx([c["train_loss"] for c in full["curve"]])
    assert not (tmp_path / "cut" / "checkpoint").exists()


@pytest.mark.parametrize("mode", ["full", "lora", "prompt_tuning"])
def test_the_student_not_kept_is_saved_beside_the_kept_one(tiny, tmp_path, monkeypatch, mode):
    """keep_both (`train --keep-both`): where the tail average is kept, the student the
    run would have kept without it is saved beside it, to compare the two: it equals the
    student of the same training without averaging, and the saved student is the
    average (LoRA is merged on save: saving twice must not merge twice); where the
    average loses, it is the one saved beside."""
    from kgdistill import distill
    from kgdistill.distill import train_student

    monkeypatch.setattr(distill._StudentTask, "validate", lambda self: {"score": 1.0})  # ties: the average is kept
    records = [RECORD, TrainingRecord("2", "question: what did X star in path:", ["a"], ["c"],
                                      hard=["<r:~starred_actors><eop>"])] * 3
    rels = ["directed_by", "starred_actors"]
    args = TrainArgs(epochs=4, batch_size=2, patience=10, optimizer="adamw", lr=5e-3, average_tail=0.5,
                     keep_both=True)

    def trained(out, **changes):
        torch.manual_seed(0)
        st = _tiny_llama_student(rels, tmp_path / out, adaptation=mode)
        metrics = train_student(st, tiny, records, [], DistillConfig(), 2, TrainArgs(**{**vars(args), **changes}),
                                out_dir=tmp_path / out / "student", progress=False)
        return metrics, Student.load(tmp_path / out / "student")

    metrics, averaged = trained("avg")
    assert metrics["weight_average"]["kept"] and metrics["kept_beside"] == "student-unaveraged"
    twin = Student.load(tmp_path / "avg" / "student-unaveraged")
    (tmp_path / "plain" / "student-unaveraged").mkdir(parents=True)  # an earlier training's twin
    _, plain = trained("plain", average_tail=0.0)
    assert not (tmp_path / "plain" / "student-unaveraged").exists()
    weights = [dict(s.model.named_parameters()) for s in (averaged, twin, plain)]
    assert all(torch.equal(weights[1][n], p) for n, p in weights[2].items())
    assert not all(torch.equal(weights[0][n], p) for n, p in weights[2].items())
    from kgdistill.decoding import decode_paths_cached

    top = decode_paths_cached(twin, ["question: who directed X path:"], 2, 2)
    assert top[0] and all(len(p.path) for p in top[0])  # the twin loads and decodes paths
    # where the average loses on validation, the average is the one saved beside, and an
    # earlier training's unaveraged twin goes
    (tmp_path / "lost" / "student-unaveraged").mkdir(parents=True)
    scores = iter([1.0, 2.0, 3.0, 4.0, 0.0])  # 4 epochs, then the average
    monkeypatch.setattr(distill._StudentTask, "validate", lambda self: {"score": next(scores)})
    metrics, last = trained("lost")
    assert not metrics["weight_average"]["kept"] and metrics["kept_beside"] == "student-average"
    beside = dict(Student.load(tmp_path / "lost" / "student-average").model.named_parameters())
    assert all(torch.equal(beside[n], p) for n, p in averaged.model.named_parameters())  # the same training's average
    assert not (tmp_path / "lost" / "student-unaveraged").exists()
    # the twin is optional: where it cannot be saved, the run warns and still saves the student
    monkeypatch.setattr(distill._StudentTask, "validate", lambda self: {"score": 1.0})
    monkeypatch.setattr(distill, "_save_twin", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    metrics, _ = trained("full-disk")
    assert "kept_beside" not in metrics and (tmp_path / "full-disk" / "student" / "model.safetensors").exists()


def test_a_second_student_is_never_saved_with_weights_it_does_not_hold(tmp_path):
    """_save_twin refuses weights whose names the copy lacks (it would otherwise save the
    kept student under the other's name) and leaves nothing behind."""
    from kgdistill.distill import _save_twin

    st = tiny_student()
    with pytest.raises(RuntimeError, match="lacks the trained weights"):
        _save_twin(st, {"no.such.weight": torch.zeros(1)}, tmp_path / "student-average", {})
    assert not any(tmp_path.iterdir())


def _tiny_llama_checkpoint(directory):
    """A model of SmolLM2's architecture (LlamaForCausalLM, grouped-query attention,
    tied embeddings) with tiny dimensions, saved as a local checkpoint."""
    return _tiny_checkpoint("llama", directory, 2)


def _tiny_llama_student(relations, tmp_path, softmax="full", adaptation="full"):
    base = _tiny_llama_checkpoint(tmp_path / "llama")
    st = Student.create(RelationVocabulary(relations), [], StudentConfig(base_model=str(base), softmax=softmax))
    return adapt(st, adaptation)


ARCH_MODES = [("gpt2", "full")] + [("llama", m) for m in ADAPTATION_MODES]


@pytest.mark.parametrize("softmax", ["full", "paths"])
@pytest.mark.parametrize("arch,mode", ARCH_MODES)
def test_kv_cache_decoder_matches_re_encoding(arch, mode, softmax, tmp_path):
    """The cached decoder returns the same beams as the re-encoding one, constrained or
    not, on prompts of different lengths (left padding) and random graphs."""
    from kgdistill.decoding import decode_paths, decode_paths_cached

    rng = random.Random(1)
    rels = [f"r{i}" for i in range(4)]
    triples = [(f"e{rng.randrange(10)}", rng.choice(rels), f"e{rng.randrange(10)}") for _ in range(30)]
    kg = KnowledgeGraph.from_triples(triples)
    if arch == "gpt2":
        st = Student.create(RelationVocabulary.from_graph(kg), ["question: what X path:", "a much longer prompt"],
                            StudentConfig(n_layer=2, n_embd=32, n_head=4, vocab_size=300, softmax=softmax))
    else:
        st = _tiny_llama_student(RelationVocabulary.from_graph(kg).names, tmp_path, softmax, mode)
    for p in st.model.parameters():
        torch.nn.init.normal_(p, std=0.5)
    prompts = ["question: what X path:", "question: who directed the film that X starred in path:", "q"]
    topics = [[kg.entity_id(triples[k][0])] for k in range(3)]
    if softmax == "paths":  # the path vocabulary's probabilities sum to one at every step
        enc = st.encode_pairs(prompts[:1], ["<eop>"])
        logp = st.log_softmax(st.logits(enc["input_ids"], enc["attention_mask"])[0, -1].float())
        assert float(logp.exp().sum()) == pytest.approx(1.0) and float(logp[st.output_ids].exp().sum()) == pytest.approx(1.0)
    topics[2] = topics[2] + [-1]  # an unknown topic id (-1) is ignored, not a crash
    for graph in (kg, None):
        slow = decode_paths(st, prompts, 4, 3, graph, topics)
        fast = decode_paths_cached(st, prompts, 4, 3, graph, topics)
        assert [[str(p.path) for p in q] for q in slow] == [[str(p.path) for p in q] for q in fast]
        for a, b in zip(slow, fast):
            assert [p.logprob for p in a] == pytest.approx([p.logprob for p in b], abs=1e-4)


def _random_world_and_student(seed: int, entities: int, relations: int = 3, n_triples: int = 30,
                              arch: str = "tiny", tmp_path=None, weight_seed: int = 0, std: float = 1.0):
    """A random graph of ``n_triples`` triples over ``relations`` relations and an
    untrained student with random weights over it: ``tiny`` (1 layer, 16 wide),
    ``gpt2`` (2 layers, 32 wide) or ``llama`` (a tiny model of SmolLM2's architecture
    with path-only logits, built under ``tmp_path``)."""
    rng = random.Random(seed)
    rels = [f"r{i}" for i in range(relations)]
    triples = [(f"e{rng.randrange(entities)}", rng.choice(rels), f"e{rng.randrange(entities)}")
               for _ in range(n_triples)]
    kg = KnowledgeGraph.from_triples(triples)
    if arch == "llama":
        st = _tiny_llama_student(RelationVocabulary.from_graph(kg).names, tmp_path, "paths")
    else:
        size = {"tiny": dict(n_layer=1, n_embd=16, n_head=2, vocab_size=280),
                "gpt2": dict(n_layer=2, n_embd=32, n_head=4, vocab_size=300)}[arch]
        st = Student.create(RelationVocabulary.from_graph(kg), ["question: what X path:"], StudentConfig(**size))
    torch.manual_seed(weight_seed)
    for p in st.model.parameters():
        torch.nn.init.normal_(p, std=std)
    return kg, triples, st


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_lookahead_pass_saves_a_pass_and_changes_no_beam(arch, tmp_path, monkeypatch):
    """The prompt pass that also scores every allowed first relation's continuation
    gives the beams of the plain cached decoder with one forward pass fewer: 2 hops
    with a forced end token in one pass; 3 hops (its cache cut down to each beam's
    first relation) in three instead of four; also without a graph, and through the
    plain way when the cache cannot be cut."""
    from kgdistill import decoding
    from kgdistill.decoding import decode_paths_cached

    kg, triples, st = _random_world_and_student(2, 10, 4, 40, arch, tmp_path, weight_seed=3, std=0.5)
    lm = st._causal_lm()
    passes = []
    getattr(lm, lm.base_model_prefix).register_forward_hook(lambda *a: passes.append(1))
    prompts = ["question: what X path:", "question: who directed the film that X starred in path:"]
    topics = [[kg.entity_id(triples[0][0])], [kg.entity_id(triples[5][0])]]

    def run(look, graph, hops, min_hops):
        passes.clear()
        out = decode_paths_cached(st, prompts, 4, hops, graph, topics, min_hops=min_hops, lookahead=look)
        return [[(str(p.path), p.logprob) for p in q] for q in out], len(passes)

    for graph, hops, min_hops, plain_passes in ((kg, 2, 2, 2), (kg, 3, 1, 4), (None, 3, 1, 4), (kg, 1, 1, 1)):
        plain, n_plain = run(0, graph, hops, min_hops)
        fast, n_fast = run(10_000, graph, hops, min_hops)
        assert n_plain == plain_passes
        assert n_fast == (plain_passes - 1 if hops > 1 else 1)
        assert [[p for p, _ in q] for q in fast] == [[p for p, _ in q] for q in plain]
        for a, b in zip(fast, plain):
            assert [lp for _, lp in a] == pytest.approx([lp for _, lp in b], abs=1e-4)
        assert any(len(q) > 1 for q in plain)
    # over the token budget, or with a cache that cannot be cut: the plain way, same beams
    assert run(1, kg, 3, 1) == run(0, kg, 3, 1)
    monkeypatch.setattr(decoding, "keep_columns", lambda *a: False)
    fast, n_fast = run(10_000, kg, 3, 1)
    assert n_fast == 5 and [[p for p, _ in q] for q in fast] == [[p for p, _ in q] for q in run(0, kg, 3, 1)[0]]


@pytest.mark.parametrize("arch", ["gpt2", "llama"])
def test_packed_prompt_pass_changes_no_beam(arch, tmp_path, monkeypatch):
    """Prompts packed end to end into rows (instead of left-padded to the longest)
    give the plain cached decoder's beams, 2 and 3 hops; the cache unpacked to the
    left-padded layout serves the later steps."""
    from kgdistill import decoding, passes
    from kgdistill.decoding import decode_paths_cached

    kg, triples, st = _random_world_and_student(4, 10, 4, 40, arch, tmp_path, weight_seed=5, std=0.5)
    prompts = ["q", "question: who directed the film that X starred in and when path:", "what X",
               "question: what X path:", "a", "question: which films share a writer with the film of X path:"]
    topics = [[kg.entity_id(triples[k][0])] for k in range(len(prompts))]
    used = []
    real = passes.packed_prompt_pass

    def spy(*a, **kw):
        out = real(*a, **kw)
        used.append(out is not None)
        return out

    monkeypatch.setattr(decoding, "packed_prompt_pass", spy)
    for hops, min_hops in ((2, 2), (3, 1)):
        plain = decode_paths_cached(st, prompts, 4, hops, kg, topics, min_hops=min_hops, lookahead=0, pack=False)
        packed = decode_paths_cached(st, prompts, 4, hops, kg, topics, min_hops=min_hops, lookahead=0)
        assert used == [True]
        used.clear()
        assert [[str(p.path) for p in q] for q in packed] == [[str(p.path) for p in q] for q in plain]
        for a, b in zip(packed, plain):
            assert [p.logprob for p in a] == pytest.approx([p.logprob for p in b], abs=1e-4)
        assert sum(len(q) for q in plain) > len(prompts)


def test_pack_rows_fills_rows_without_overlap():
    from kgdistill.passes import pack_rows

    rng = random.Random(0)
    for _ in range(50):
        lengths = [rng.randint(1, 30) for _ in range(rng.randint(1, 40))]
        cap = rng.choice([30, 40, 64])
        place = pack_rows(lengths, cap)
        rows: dict[int, list[tuple[int, int]]] = {}
        for (r, s), n in zip(place, lengths):
            rows.setdefault(r, []).append((s, s + n))
        for spans in rows.values():
            spans.sort()
            assert spans[0][0] == 0 and spans[-1][1] <= cap
            assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
        assert len(rows) <= -(-sum(lengths) // cap) * 2  # first-fit decreasing: at most twice the bound


@pytest.mark.parametrize("softmax", ["full", "paths"])
@pytest.mark.parametrize("arch,mode", ARCH_MODES)
def test_shared_prompt_loss_equals_the_naive_loss(arch, mode, softmax, tmp_path):
    """Encoding each prompt once and scoring its paths against the cached prompt gives
    the same loss and gradients as one sequence per (prompt, path) pair."""
    rels = ("directed_by", "starred_actors")
    if arch == "gpt2":
        st = tiny_student(rels, softmax=softmax)
    else:
        st = _tiny_llama_student(list(rels), tmp_path, softmax, mode)
    st.model.eval()
    other = TrainingRecord("2", "question: a much longer question about what X starred in path:", ["a"], ["c"],
                           hard=["<r:~starred_actors><eop>", "<r:directed_by><r:~directed_by><eop>"],
                           soft=[{"path": "<r:~starred_actors><eop>", "prob": 0.6}], soft_rest=0.4)
    records = [RECORD, other]
    for alpha in (1.0, 0.5, 0.0):
        grads = []
        losses = []
        for shared in (False, True):
            st.model.zero_grad()
            loss = batch_loss(st, records, DistillConfig(alpha=alpha), [True, True], shared_prompts=shared)
            loss.backward()
            losses.append(float(loss))
            grads.append(torch.cat([p.grad.flatten() for p in st.model.parameters() if p.grad is not None]))
        assert losses[0] == pytest.approx(losses[1], rel=1e-5)
        assert torch.allclose(grads[0], grads[1], atol=1e-6)


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_compressed_students_decode_valid_paths_close_to_fp32(llama_checkpoint, precision):
    """bf16 casts every weight, int8 quantizes the body's linear layers (per channel);
    both decode only valid paths and agree with fp32 on the path log-probabilities
    within the rounding of their formats."""
    from kgdistill.decoding import decode_paths_cached
    from kgdistill.errors import ConfigError

    torch.manual_seed(0)
    kg = KnowledgeGraph.from_triples([("X", "directed_by", "d"), ("f", "starred_actors", "X"), ("d", "directed_by", "e")])
    st = Student.create(RelationVocabulary.from_graph(kg), [], StudentConfig(base_model=str(llama_checkpoint)))
    prompts, topics = [RECORD.prompt, "question: what did X star in path:"], [[kg.entity_id("X")]] * 2
    ref = decode_paths_cached(st, prompts, 3, 2, kg, topics)
    st.for_inference("cpu", precision)
    lm = st._causal_lm()
    if precision == "bf16":
        assert all(p.dtype == torch.bfloat16 for p in st.model.parameters())
    else:
        from torch.ao.nn.quantized.dynamic import Linear as QuantizedLinear

        linear = [m for m in lm.model.modules() if isinstance(m, torch.nn.Linear)]
        assert linear == [] and any(isinstance(m, QuantizedLinear) for m in lm.model.modules())
        assert lm.get_output_embeddings().weight.dtype == torch.float32
    got = decode_paths_cached(st, prompts, 3, 2, kg, topics)
    for a, b in zip(ref, got):
        assert {str(p.path) for p in a} == {str(p.path) for p in b}
        want = {str(p.path): p.logprob for p in a}
        for p in b:
            assert p.logprob == pytest.approx(want[str(p.path)], abs=0.1)
            assert verify_relation_path(kg, "X", p.path).valid
    with pytest.raises(ConfigError):
        st.for_inference("cpu", "fp8")


def test_running_prompts_without_a_cache_reads_no_deprecated_output_field(tmp_path, monkeypatch):
    """Training and re-encoding (use_cache=False) logged transformers 5's
    "`past_key_values`/`cache_params` are deprecated" warning at every run: the code read
    the old field whenever the output's cache was None."""
    from transformers.utils import generic

    st = _tiny_llama_student(["directed_by", "starred_actors"], tmp_path)
    read = []
    monkeypatch.setattr(generic.ModelOutput, "past_key_values",
                        property(lambda self: read.append(1) or self.cache), raising=False)
    ids, mask = st.left_padded(["question: who directed X path:"])
    hidden, cache, _ = st.run_prompts(ids, mask, use_cache=False)
    assert cache is None and hidden.shape[0] == 1
    _, cache, _ = st.run_prompts(ids, mask, use_cache=True)
    assert cache is not None
    assert read == []


@pytest.mark.parametrize("decoder", ["beam", "kv"])
def test_exact_hop_runs_decode_only_full_length_paths(decoder):
    """A run whose answers are all exactly `hops` away (MetaQA) decoded 1-hop paths from
    a student that had not yet learnt the length: every top path (196 questions) of a
    briefly prefix-tuned MetaQA 2-hop student ended after one hop (Hits@1 0.0). With min_hops the
    decoder keeps every path at the full length, on both decoders."""
    from kgdistill.decoding import DECODERS

    kg, triples, st = _random_world_and_student(seed=1, entities=10)
    topics = [[kg.entity_id(h)] for h, _, _ in triples[:6]]
    prompts = ["question: what X path:"] * len(topics)
    dec = DECODERS[decoder]()
    free = dec.decode(st, prompts, 4, 2, kg, topics)
    exact = dec.decode(st, prompts, 4, 2, kg, topics, min_hops=2)
    assert any(len(p.path) == 1 for q in free for p in q)
    assert all(len(p.path) == 2 for q in exact for p in q) and any(exact)
    for t, paths in zip(topics, exact):
        for p in paths:
            assert verify_relation_path(kg, kg.entity_label(t[0]), p.path).valid


def _pass_counting_world():
    """A random world and student, four prompts, and the list a forward hook on the
    student's transformer body appends to on every pass (remove the hook after)."""
    kg, triples, st = _random_world_and_student(seed=3, entities=8)
    topics = [[kg.entity_id(h)] for h, _, _ in triples[:4]]
    prompts = ["question: what X path:"] * len(topics)
    passes = []
    lm = st._causal_lm()
    hook = getattr(lm, lm.base_model_prefix).register_forward_hook(lambda *a: passes.append(1))
    return kg, st, topics, prompts, passes, hook


def _teacher_forced_logprob(st, prompt, path, with_end: bool) -> float:
    """A path's log-probability from one teacher-forced pass: the sum over its relation
    tokens, plus the end token's with ``with_end``."""
    tok = st.tokenizer
    rel_ids = [int(st.path_token_ids[st.vocabulary.row(r)]) for r in path.relations]
    prefix = [tok.bos_token_id] + tok(prompt, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([prefix + rel_ids + [st.end_id]])
    with torch.no_grad():
        logp = st.log_softmax(st.logits(ids, torch.ones_like(ids))[0].float())
    tokens = rel_ids + ([st.end_id] if with_end else [])
    return sum(float(logp[len(prefix) - 1 + k, t]) for k, t in enumerate(tokens))


@pytest.mark.parametrize("decoder", ["beam", "kv"])
def test_a_forced_end_token_costs_no_forward_pass(decoder):
    """With min_hops == max_hops the end token is the only choice after the last
    relation. Both decoders ran one more forward pass just to score it (3 passes for a
    2-hop question instead of 2) and added its log-probability to the path's; now a
    path's log-probability is the sum over its relation tokens, scored here by one
    teacher-forced pass, and the decoder runs max_hops passes (``kv`` one fewer: its
    prompt pass also scores the first relations' continuations)."""
    from kgdistill.decoding import DECODERS

    kg, st, topics, prompts, passes, hook = _pass_counting_world()
    try:
        exact = DECODERS[decoder]().decode(st, prompts, 4, 2, kg, topics, min_hops=2)
    finally:
        hook.remove()
    assert len(passes) == {"beam": 2, "kv": 1}[decoder] and any(exact)
    for prompt, paths in zip(prompts, exact):
        for p in paths:
            assert p.logprob == pytest.approx(_teacher_forced_logprob(st, prompt, p.path, False), abs=1e-4)


@pytest.mark.parametrize("decoder", ["beam", "kv"])
def test_the_end_token_after_the_trained_hop_count_costs_no_forward_pass(decoder):
    """A run that learns the hop count (``--exact-hops no``) decodes paths of 1 to
    ``hops`` relations. After as many relations as its longest training path the end
    token is the only choice and every path the student learned from ended there, yet
    both decoders ran one more forward pass just to score it. Now it is forced as in
    exact decoding: one pass fewer, and a full-length path's log-probability is the sum
    over its relations. Decoded for fewer hops than its longest path, or for more, or
    with no longest path recorded, the end token is still scored."""
    from kgdistill.decoding import DECODERS

    kg, st, topics, prompts, passes, hook = _pass_counting_world()

    def run(longest):
        st.longest_path = longest
        passes.clear()
        return DECODERS[decoder]().decode(st, prompts, 4, 2, kg, topics, min_hops=1), len(passes)

    try:
        scored, n_scored = run(3)  # trained on 3-hop paths, decoded for at most 2: the end is scored
        forced, n_forced = run(2)
        _, n_above = run(1)  # a hop limit above every training path: what follows was never learned
        _, n_unknown = run(None)  # a student saved before the longest path was recorded
    finally:
        hook.remove()
    assert n_scored == {"beam": 3, "kv": 2}[decoder] and n_forced == n_scored - 1
    assert n_above == n_unknown == n_scored
    for prompt, paths in zip(prompts, forced):
        for p in paths:  # a 1-hop path still pays for its end token
            want = _teacher_forced_logprob(st, prompt, p.path, with_end=len(p.path) == 1)
            assert p.logprob == pytest.approx(want, abs=1e-4)
    lengths = {len(p.path) for q in forced for p in q}
    assert lengths == {1, 2}
    two_hop = [p.logprob for q in scored for p in q if len(p.path) == 2]
    assert two_hop and max(two_hop) < max(p.logprob for q in forced for p in q if len(p.path) == 2)


def test_answering_uses_the_fused_gelu_with_the_same_outputs():
    """for_inference swaps GPT-2's seven-operation gelu_new for the fused tanh GELU
    (twice as fast on the prompt pass): the logits agree, the weights and config do not
    change."""
    from transformers.activations import NewGELUActivation

    from kgdistill.model_edits import FusedGELUTanh

    st = tiny_student()
    enc = st.encode_pairs(["question: who directed X path:"], "<r:directed_by><eop>")
    st.model.eval()
    before = st.logits(enc["input_ids"], enc["attention_mask"])
    state = {k: v.clone() for k, v in st.model.state_dict().items()}
    st.for_inference("cpu", "fp32")
    kinds = [type(m) for m in st.model.modules()]
    assert FusedGELUTanh in kinds and NewGELUActivation not in kinds
    after = st.logits(enc["input_ids"], enc["attention_mask"])
    assert torch.allclose(before, after, atol=1e-5)
    assert st.model.state_dict().keys() == state.keys()
    assert all(torch.equal(v, state[k]) for k, v in st.model.state_dict().items())
    assert st.model.config.activation_function == "gelu_new"


def _tiny_checkpoint(arch, directory, layers):
    """A tiny GPT-2 or Llama (SmolLM2's architecture) checkpoint with ``layers`` layers."""
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    tok = train_tokenizer(["who directed X", "inverse of starred actors", "directed by", "question: path:"], [], 300)
    ids = dict(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    torch.manual_seed(0)
    if arch == "llama":
        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                                             num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                                             max_position_embeddings=128, tie_word_embeddings=True, **ids))
    else:
        model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=32, n_layer=layers,
                                           n_head=2, **ids))
    model.save_pretrained(directory)
    tok.save_pretrained(directory)
    return directory


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_a_student_cut_to_fewer_layers_keeps_the_first_and_last_and_reloads(tmp_path, arch):
    """base_layers (kgdistill compress --from-source): the kept layers are the first
    n-1 and the last, with their weights; the KV-cache decoder agrees with plain
    re-encoding on the cut model; it saves, reloads with from_pretrained and decodes the
    same paths."""
    from transformers import AutoModelForCausalLM

    from kgdistill.decoding import decode_paths, decode_paths_cached
    from kgdistill.errors import ConfigError
    from kgdistill.model_edits import keep_layers

    base = _tiny_checkpoint(arch, tmp_path / "base", 5)
    full = AutoModelForCausalLM.from_pretrained(base)
    rels = RelationVocabulary(["directed_by", "starred_actors"])
    st = Student.create(rels, [], StudentConfig(base_model=str(base), base_layers=3, max_length=64))
    body = getattr(st.model, st.model.base_model_prefix)
    layers = body.layers if arch == "llama" else body.h
    src = getattr(full, full.base_model_prefix)
    src_layers = src.layers if arch == "llama" else src.h
    assert len(layers) == 3 and st.model.config.num_hidden_layers == 3
    for mine, theirs in zip(layers, [src_layers[0], src_layers[1], src_layers[4]]):
        assert all(torch.equal(a, b) for a, b in zip(mine.state_dict().values(), theirs.state_dict().values()))
    assert [getattr(m, "layer_idx") for m in st.model.modules() if hasattr(m, "layer_idx")] == [0, 1, 2]
    st.model.eval()
    kg = KnowledgeGraph.from_triples([("X", "directed_by", "d"), ("f", "starred_actors", "X"), ("d", "directed_by", "e")])
    topics = [[kg.entity_id("X")], [kg.entity_id("d")]]
    prompts = [RECORD.prompt, "question: what did X star in path:"]
    cached = decode_paths_cached(st, prompts, 3, 2, kg, topics)
    plain = decode_paths(st, prompts, 3, 2, kg, topics)
    assert [[str(p.path) for p in q] for q in cached] == [[str(p.path) for p in q] for q in plain]
    st.save(tmp_path / "cut")
    assert AutoModelForCausalLM.from_pretrained(tmp_path / "cut").config.num_hidden_layers == 3
    again = Student.load(tmp_path / "cut")
    assert [[str(p.path) for p in q] for q in decode_paths_cached(again, prompts, 3, 2, kg, topics)] == \
        [[str(p.path) for p in q] for q in cached]
    with pytest.raises(ConfigError, match="base_layers must be in"):
        keep_layers(AutoModelForCausalLM.from_pretrained(base), 6)
    with pytest.raises(ConfigError, match="needs base_model"):
        StudentConfig(base_layers=2)


def test_a_student_given_as_base_model_keeps_its_trained_path_tokens(base_checkpoint, tmp_path):
    """Training on from a saved student (``--base-model RUN/student``) with one more
    relation: only the new relation's tokens start from their names; the tokens the
    student had keep their trained embeddings (they were all reset before)."""
    old = Student.create(RelationVocabulary(["directed_by", "starred_actors"]), [],
                         StudentConfig(base_model=str(base_checkpoint), max_length=64))
    emb = old.model.get_input_embeddings().weight
    ids = old.output_ids.tolist()
    with torch.no_grad():  # stands for training: every path token moves away from its name
        emb[ids] = torch.randn(len(ids), emb.shape[1], generator=torch.Generator().manual_seed(1))
    trained = emb[ids].clone()
    old.save(tmp_path / "student")
    new = Student.create(RelationVocabulary(["directed_by", "starred_actors", "written_by"]), [],
                         StudentConfig(base_model=str(tmp_path / "student"), max_length=64))
    tok, weight = new.tokenizer, new.model.get_input_embeddings().weight
    kept = [tok.convert_tokens_to_ids(old.tokenizer.convert_ids_to_tokens(i)) for i in ids]
    assert torch.equal(weight[kept], trained)
    fresh = tok.convert_tokens_to_ids("<r:written_by>")
    assert fresh not in kept and not torch.equal(weight[fresh], weight[kept[0]])
    pieces = tok(" written by", add_special_tokens=False)["input_ids"]
    assert torch.allclose(weight[fresh], weight[pieces].mean(0))


def test_a_prompt_learning_student_is_refused_as_base_model(base_checkpoint, tmp_path):
    """Its weights are the untouched base model (the virtual tokens are in adapter/):
    training from it would silently drop what it learned."""
    from kgdistill.errors import ConfigError
    from kgdistill.pretrained import check_base_model

    st = Student.create(RelationVocabulary(["directed_by"]), [],
                        StudentConfig(base_model=str(base_checkpoint), max_length=64))
    adapt(st, "prompt_tuning")
    st.save(tmp_path / "student")
    with pytest.raises(ConfigError, match="prompt-learning student"):
        check_base_model(str(tmp_path / "student"))
    check_base_model(str(base_checkpoint))  # a plain checkpoint passes
