import math

import pytest
import torch

from kgdistill.losses import distillation_loss, hard_loss, soft_loss


def test_soft_loss_by_hand():
    p = torch.tensor([[0.6, 0.3, 0.1]])
    q = torch.tensor([[0.5, 0.25, 0.25]])
    mask = torch.ones(1, 3, dtype=torch.bool)
    want = sum(a * math.log(a / b) for a, b in zip([0.5, 0.25, 0.25], [0.6, 0.3, 0.1]))
    assert float(soft_loss(torch.log(p), q, mask, 1.0)) == pytest.approx(want, rel=1e-5)
    # T = 2: the student's distribution is softmax(log p / 2) ∝ sqrt(p); the KL is scaled by 4.
    s = [math.sqrt(x) for x in (0.6, 0.3, 0.1)]
    s = [x / sum(s) for x in s]
    want2 = 4 * sum(a * math.log(a / b) for a, b in zip([0.5, 0.25, 0.25], s))
    assert float(soft_loss(torch.log(p), q, mask, 2.0)) == pytest.approx(want2, rel=1e-5)


def test_soft_loss_ignores_padding():
    logp = torch.log(torch.tensor([[0.6, 0.4, 0.0001]]))
    q = torch.tensor([[0.6, 0.4, 0.0]])
    mask = torch.tensor([[True, True, False]])
    assert float(soft_loss(logp, q, mask, 1.0)) == pytest.approx(0.0, abs=1e-6)


def test_hard_loss_and_mixture():
    logp = torch.tensor([-1.2, -0.6])
    n = torch.tensor([3.0, 2.0])
    h = hard_loss(logp, n, torch.tensor([0.5, 0.5]))
    assert float(h) == pytest.approx((0.4 + 0.3) / 2)
    s = torch.tensor(2.0)
    assert float(distillation_loss(1.0, h, s)) == pytest.approx(float(h))
    assert float(distillation_loss(0.0, h, s)) == pytest.approx(2.0)
    assert float(distillation_loss(0.25, h, s)) == pytest.approx(0.25 * float(h) + 0.75 * 2.0)


def test_soft_loss_with_rest_by_hand():
    from kgdistill.losses import soft_loss_with_rest

    # student: 0.5 and 0.2 on the two paths, 0.3 elsewhere; teacher: 0.6 / 0.2 / 0.2 (rest)
    p = torch.tensor([[0.5, 0.2]])
    q = torch.tensor([[0.75, 0.25]])  # renormalised over the paths; rest 0.2
    mask = torch.ones(1, 2, dtype=torch.bool)
    rest = torch.tensor([0.2])
    want = sum(a * math.log(a / b) for a, b in zip([0.6, 0.2, 0.2], [0.5, 0.2, 0.3]))
    assert float(soft_loss_with_rest(torch.log(p), q, mask, rest, 1.0)) == pytest.approx(want, rel=1e-5)
    # Unlike the k-way loss, scaling the student's path probabilities down is penalised.
    k_way = soft_loss(torch.log(p), q, mask, 1.0)
    assert float(soft_loss(torch.log(p / 10), q, mask, 1.0)) == pytest.approx(float(k_way), rel=1e-5)
    assert float(soft_loss_with_rest(torch.log(p / 10), q, mask, rest, 1.0)) > want + 1.0
    # Padding is ignored and a teacher with no rest mass is fine.
    p3 = torch.log(torch.tensor([[0.5, 0.2, 1e-4]]))
    m3 = torch.tensor([[True, True, False]])
    q3 = torch.tensor([[0.75, 0.25, 0.0]])
    assert float(soft_loss_with_rest(p3, q3, m3, rest, 1.0)) == pytest.approx(want, rel=1e-4)
    assert torch.isfinite(soft_loss_with_rest(torch.log(p), q, mask, torch.zeros(1), 1.0))


def test_soft_loss_names_match_the_table():
    from kgdistill.configs import SOFT_LOSS_NAMES
    from kgdistill.losses import SOFT_LOSSES

    assert tuple(SOFT_LOSSES) == SOFT_LOSS_NAMES


def test_the_command_line_starts_without_torch():
    """Defaults come from kgdistill.configs, which imports neither torch nor PyG."""
    import subprocess
    import sys

    code = "import sys, kgdistill.cli; print('torch' in sys.modules, 'torch_geometric' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.split() == ["False", "False"]
