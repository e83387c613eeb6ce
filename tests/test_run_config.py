"""Run configuration: hop inference, resolution, JSON round trip (kgdistill.runs)."""
import pytest

from kgdistill.datasets import Question, load_questions

from kgdistill.distill import DistillConfig
from kgdistill.errors import ConfigError
from kgdistill.runs import RunConfig, RunError, infer_hops
from kgdistill.student import StudentConfig
from kgdistill.readers import load_graph
from tests.conftest import DATA, GRAPHS, need


def test_infer_hops_on_the_example_graph():
    kg = load_graph(GRAPHS / "world.ttl")
    hops, exact, counts = infer_hops(kg, load_questions(GRAPHS / "world_train.jsonl"))
    assert (hops, exact) == (3, False) and set(counts) == {1, 2, 3}


def test_infer_hops_from_answers_and_gold_paths(metaqa_kg):
    qs = load_questions(need(DATA / "metaqa" / "2-hop" / "qa_train.txt"))
    hops, exact, counts = infer_hops(metaqa_kg, qs)
    assert (hops, exact) == (2, True), counts
    pq = DATA / "pathquestion" / "PQ-3H"
    hops, exact, counts = infer_hops(load_graph(need(pq / "kb.txt")), load_questions(pq / "train.txt"))
    assert (hops, exact, counts) == (3, True, {3: 200})


def test_resolve_and_typed_sections(tiny):
    qs = [Question("1", "where was X born", ["Joe Biden"], ["Scranton"])]
    c = RunConfig(graph="kb.txt", train="t.jsonl", distill=DistillConfig(alpha=1.0)).resolve(tiny, qs)
    assert c.hops == 1 and c.exact_hops is True and c.distill.alpha == 1.0 and c.student.n_layer == 2
    # hops and the temperature each live in one place
    d = c.to_dict()
    assert "num_steps" not in d["teacher"] and "max_hops" not in d["serializer"] and "max_hops" not in d["distill"]
    assert "temperature" not in d["serializer"] and d["distill"]["temperature"] == 1.0
    assert RunConfig.from_dict(d) == c
    with pytest.raises(ConfigError, match="alpha"):
        DistillConfig(alpha=2.0)
    with pytest.raises(ConfigError, match="pretrained"):
        StudentConfig(adaptation="lora")
    with pytest.raises(ConfigError, match="hops"):
        RunConfig(graph="kb", train="t", hops=50)
    with pytest.raises(RunError, match="--hops"):
        RunConfig(graph="kb", train="t").resolve(tiny, [Question("1", "q", ["Joe Biden"], ["Nowhere"])])


def test_config_loads_tolerantly(caplog):
    d = RunConfig(graph="kb", train="t").to_dict()
    d["from_the_future"] = 1
    d["distill"]["new_knob"] = 2
    with caplog.at_level("WARNING"):
        c = RunConfig.from_dict(d, "run/config.json")
    assert c.distill == DistillConfig() and "from_the_future" in caplog.text and "new_knob" in caplog.text
    d["distill"]["alpha"] = "high"
    with pytest.raises(ConfigError, match="run/config.json: alpha"):
        RunConfig.from_dict(d, "run/config.json")


def test_first_config_format_is_converted():
    old = {"graph": "kb", "train": "t", "seed": 0, "hops": 2, "exact_hops": True, "adaptation": "full",
           "teacher": {"num_steps": 2, "hidden_dim": 64, "epochs": 7, "lr": 0.01, "max_train_minutes": 3.0},
           "serializer": {"template": "q: {question} p:", "temperature": 2.0, "max_hops": 2, "top_k": 4},
           "student": {"n_layer": 3}, "distill": {"alpha": 0.7, "temperature": 2.0, "epochs": 5, "max_hops": 2, "soft_rest": False},
           "inferred": {}}
    c = RunConfig.from_dict(old)
    assert c.teacher.hidden_dim == 64 and c.teacher_training.epochs == 7 and c.teacher_training.max_minutes == 3.0
    assert c.serializer.top_k == 4 and c.distill.temperature == 2.0 and c.student_training.epochs == 5
    assert c.student.n_layer == 3 and c.hops == 2 and c.version == 2 and c.distill.soft_loss == "kway"


def test_pretrained_students_get_their_adaptation_modes_learning_rate():
    """`kgdistill train --base-model ...` used the small student's lr 2e-3 for every mode:
    full fine-tuning of SmolLM2 at 2e-3 wrecks it. Defaults now follow the mode, a given
    --lr wins, and a pretrained student gets the path-only softmax unless told."""
    from kgdistill.cli import build_parser
    from kgdistill.commands import _run_config_from_args
    from kgdistill.configs import PRETRAINED_LR, STUDENT_TRAINING

    def config(*extra):
        args = build_parser().parse_args(["train", "-g", "kb.txt", "--train", "t.txt", "--out", "o", *extra])
        return _run_config_from_args(args)

    built = config("--base-model", "none")
    assert built.student.base_model is None and built.student_training.precision == "fp32"
    assert built.student_training.lr == STUDENT_TRAINING.lr == 2e-3 and built.student.softmax == "full"
    full = config("--base-model", "some/dir")
    assert full.student_training.lr == PRETRAINED_LR["full"] == 5e-5 and full.student.softmax == "paths"
    lora = config("--base-model", "some/dir", "--adaptation", "lora")
    assert lora.student_training.lr == 5e-4
    given = config("--base-model", "some/dir", "--lr", "1e-4", "--softmax", "full")
    assert given.student_training.lr == 1e-4 and given.student.softmax == "full"


def test_the_default_student_is_smollm2_with_its_settings():
    """`kgdistill train` builds a SmolLM2 student unless --base-model none: full fine-
    tuning at 5e-5, path softmax, bf16 autocast where the CPU computes bf16."""
    from kgdistill.cli import build_parser, main
    from kgdistill.commands import _run_config_from_args
    from kgdistill.configs import cpu_has_bf16

    args = build_parser().parse_args(["train", "-g", "kb.txt", "--train", "t.txt", "--out", "o"])
    c = _run_config_from_args(args)
    assert (c.student.base_model, c.student.adaptation, c.student.softmax) == ("smollm2-135m", "full", "paths")
    assert c.student_training.lr == 5e-5
    assert c.student_training.precision == ("bf16" if cpu_has_bf16() else "fp32")
    args = build_parser().parse_args(["train", "-g", "kb.txt", "--train", "t.txt", "--out", "o", "--precision",
                                      "fp32"])
    assert _run_config_from_args(args).student_training.precision == "fp32"


def test_adapting_the_small_student_is_refused_with_a_message(capsys):
    from kgdistill.cli import main

    assert main(["train", "-g", "kb.txt", "--train", "t.txt", "--out", "o", "--base-model", "none",
                 "--adaptation", "lora"]) == 2
    assert "--adaptation lora adapts a pretrained student" in capsys.readouterr().err


def test_auto_precision_follows_the_hardware(tmp_path, monkeypatch):
    """bf16 is emulated (4x slower here) on CPUs without AVX512-BF16/AMX: auto picks it
    only where the flags say the CPU computes it, and never for the small student."""
    import kgdistill.configs as C

    with_bf16, without = tmp_path / "a", tmp_path / "b"
    with_bf16.write_text("processor : 0\nflags\t\t: fpu sse avx2 avx512f avx512_bf16\n")
    without.write_text("processor : 0\nflags\t\t: fpu sse avx2\n")
    assert C.cpu_has_bf16(str(with_bf16)) and not C.cpu_has_bf16(str(without))
    assert not C.cpu_has_bf16(str(tmp_path / "missing"))
    monkeypatch.setattr(C, "cpu_has_bf16", lambda: True)
    assert C.auto_precision("auto", True) == "bf16" and C.auto_precision("auto", False) == "fp32"
    assert C.auto_precision("fp32", True) == "fp32"
    monkeypatch.setattr(C, "cpu_has_bf16", lambda: False)
    assert C.auto_precision("auto", True) == "fp32" and C.auto_precision("bf16", False) == "bf16"


def test_a_pretrained_student_averages_the_tail_of_its_training_by_default(capsys):
    """The SmolLM2 student keeps an average of its last half when that validates better
    (PRETRAINED_AVERAGE_TAIL); the built student does not; --average-tail decides."""
    from kgdistill.cli import build_parser
    from kgdistill.commands import _run_config_from_args
    from kgdistill.configs import PRETRAINED_AVERAGE_TAIL

    def training(*extra):
        args = build_parser().parse_args(["train", "-g", "kb.txt", "--train", "t.txt", "--out", "o", *extra])
        return _run_config_from_args(args).student_training

    def tail(*extra):
        return training(*extra).average_tail

    assert tail("--valid", "v.txt") == PRETRAINED_AVERAGE_TAIL == 0.5
    assert tail() == 0.0  # nothing to judge the average on
    assert tail("--valid", "v.txt", "--base-model", "none") == 0.0
    assert tail("--average-tail", "0") == 0.0 and tail("--base-model", "none", "--average-tail", "0.3") == 0.3
    assert not training("--valid", "v.txt").keep_both
    capsys.readouterr()
    assert training("--valid", "v.txt", "--keep-both").keep_both and capsys.readouterr().err == ""
    assert training("--keep-both").keep_both  # no --valid: no average, and the user is told
    assert "--keep-both does nothing here" in capsys.readouterr().err


def test_train_takes_the_prompt_template(tmp_path, capsys):
    """`train` had no --template (only `serialize` had): a shorter prompt, 19-29% faster
    to decode, needed a hand-edited config.json. A template without {question} is
    refused before anything is read."""
    from kgdistill.cli import build_parser, main
    from kgdistill.commands import _run_config_from_args
    from kgdistill.serializer import SerializerConfig

    def args(*extra):
        return build_parser().parse_args(["train", "-g", "kb.txt", "--train", "t.txt", "--out", "o", *extra])

    assert _run_config_from_args(args()).serializer.template == SerializerConfig.template
    assert _run_config_from_args(args("--template", "{question}:")).serializer.template == "{question}:"
    out = tmp_path / "run"
    assert main(["train", "-g", "kb.txt", "--train", "t.txt", "--out", str(out), "--template", "what is asked:"]) == 2
    assert "the prompt template needs a {question} field" in capsys.readouterr().err
    assert not out.exists()
