"""The freeze map on the real pretrained default: what is frozen truly stays put."""
import pytest
import torch

from tlcore.backbones import create_backbone
from tlcore.freezing import (apply_freeze, freeze_table, param_groups, parse_freeze_spec, stage_lr_multipliers,
                             trainable_fraction)

STAGES = ["stem"] + [f"stage{i}" for i in range(1, 8)]


@pytest.fixture
def model():
    torch.manual_seed(0)
    return create_backbone("efficientnet_lite0", "imagenet", num_classes=5)


def batch(n=4, size=64):
    g = torch.Generator().manual_seed(1)
    return torch.randn(n, 3, size, size, generator=g), torch.randint(0, 5, (n,), generator=g)


def train_step(model, lr=0.1):
    model.train()
    opt = torch.optim.SGD(param_groups(model, lr), lr=lr)
    x, y = batch()
    opt.zero_grad()
    torch.nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def snapshot(model, stage_names):
    return {n: p.detach().clone() for s in model.stages() if s.name in stage_names for n, p in s.parameters}


@pytest.mark.parametrize("spec, frozen", [
    ("all", set(STAGES)), ("none", set()), ("last:2", set(STAGES[:-2])), ("last:0", set(STAGES)),
    ("stem,stage1", {"stem", "stage1"}),
])
def test_parse_spec(model, spec, frozen):
    assert parse_freeze_spec(spec, model) == (frozen, None)


@pytest.mark.parametrize("spec, message", [
    ("last:x", "whole number"), ("last:99", "K must be 0..8"), ("stem,stage99", "unknown stages"),
    ("pattern:([", "bad freeze pattern"), ("", "unknown stages"),
])
def test_bad_specs_explain_the_choices(model, spec, message):
    with pytest.raises(ValueError, match=message):
        parse_freeze_spec(spec, model)


def test_frozen_parameters_get_no_gradient_and_do_not_move(model):
    apply_freeze(model, "last:1")
    frozen = snapshot(model, set(STAGES[:-1]))
    trained = snapshot(model, {"stage7", "head"})
    train_step(model)
    grads = {n: p.grad for s in model.stages() for n, p in s.parameters}
    assert all(grads[n] is None for n in frozen), "a frozen parameter got a gradient"
    after = snapshot(model, set(STAGES))
    assert all(torch.equal(frozen[n], after[n]) for n in frozen)
    after_trained = snapshot(model, {"stage7", "head"})
    assert any(not torch.equal(trained[n], after_trained[n]) for n in trained)


def test_batchnorm_statistics_of_frozen_stages_do_not_move(model):
    apply_freeze(model, "last:1")
    stages = {s.name: s for s in model.stages()}
    frozen_bn = [bn for s in STAGES[:-1] for bn in stages[s].batchnorms]
    trained_bn = list(stages["stage7"].batchnorms)
    assert frozen_bn and trained_bn
    before = [bn.running_mean.clone() for bn in frozen_bn + trained_bn]
    model.train()
    assert not any(bn.training for bn in frozen_bn) and all(bn.training for bn in trained_bn)
    with torch.no_grad():
        model(batch()[0] * 3 + 1)
    moved = [not torch.equal(b, bn.running_mean) for b, bn in zip(before, frozen_bn + trained_bn)]
    assert not any(moved[:len(frozen_bn)]) and all(moved[len(frozen_bn):])


def test_update_policy_lets_frozen_batchnorm_adapt(model):
    apply_freeze(model, "all", bn_policy="update")  # what AdaBN needs
    bn = model.stages()[0].batchnorms[0]
    before = bn.running_mean.clone()
    model.train()
    with torch.no_grad():
        model(batch()[0] * 3 + 1)
    assert not torch.equal(before, bn.running_mean)


def count_graph_nodes(loss) -> int:
    seen, stack = set(), [loss.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        stack.extend(f for f, _ in fn.next_functions)
    return len(seen)


def test_autograd_graph_stops_at_frozen_leading_stages(model):
    x, y = batch()
    model.train()
    full = count_graph_nodes(torch.nn.functional.cross_entropy(model(x), y))
    apply_freeze(model, "last:1")
    partial = count_graph_nodes(torch.nn.functional.cross_entropy(model(x), y))
    apply_freeze(model, "all")
    probe = count_graph_nodes(torch.nn.functional.cross_entropy(model(x), y))
    assert probe < partial < full / 3, (probe, partial, full)
    # The frozen stem's output carries no graph at all.
    outputs = {}
    model.body.conv_stem.register_forward_hook(lambda m, i, o: outputs.setdefault("stem", o))
    model(x)
    assert outputs["stem"].grad_fn is None and not outputs["stem"].requires_grad


def test_pattern_freezes_matching_parameters(model):
    apply_freeze(model, r"pattern:\.bn\d?\.")  # all BatchNorm affine parameters
    for n, p in model.named_parameters():
        assert p.requires_grad == (".bn" not in n or n.startswith("head")), n


def test_discriminative_learning_rates(model):
    apply_freeze(model, "last:2")
    mult = stage_lr_multipliers(model, decay=0.5)
    assert mult["head"] == 1.0 and mult["stage7"] == 0.5 and mult["stage6"] == 0.25
    groups = param_groups(model, 1e-3, mult)
    assert [g["stage"] for g in groups] == ["stage6", "stage7", "head"]
    assert [g["lr"] for g in groups] == pytest.approx([2.5e-4, 5e-4, 1e-3])
    with pytest.raises(ValueError, match="unknown stage"):
        stage_lr_multipliers(model, overrides={"stage99": 1})


def test_optimiser_groups_hold_what_trains_now_or_by_the_plan(model):
    # Gradual unfreezing starts all frozen with the plan last:2: those stages are in the
    # optimiser from the start; a linear probe's optimiser holds the head alone.
    apply_freeze(model, "all")
    assert [g["stage"] for g in param_groups(model, 1e-3, plan="last:2")] == ["stage6", "stage7", "head"]
    head = [g for g in param_groups(model, 1e-3, plan="all")]
    assert [g["stage"] for g in head] == ["head"]
    assert sum(p.numel() for g in head for p in g["params"]) == sum(
        p.numel() for _, p in model.stages()[-1].parameters)
    apply_freeze(model, "pattern:bn")  # a parameter-level plan: BatchNorm weights stay out
    names = {id(p): n for n, p in model.named_parameters()}
    kept = [names[id(p)] for g in param_groups(model, 1e-3, plan="pattern:bn") for p in g["params"]]
    assert kept and not any(".bn" in n for n in kept if not n.startswith("head"))


def test_freeze_table_and_trainable_fraction(model):
    apply_freeze(model, "all")
    table = freeze_table(model)
    assert [r.stage for r in table] == STAGES + ["head"]
    assert all(r.frozen for r in table[:-1]) and not table[-1].frozen
    assert sum(r.params for r in table) == sum(p.numel() for p in model.parameters())
    assert trainable_fraction(model) == pytest.approx(table[-1].params / sum(r.params for r in table))
    apply_freeze(model, "none")
    assert trainable_fraction(model) == 1.0


def test_fixed_policy_keeps_every_batchnorm_even_in_trained_stages(model):
    """What LP-FT and gradual unfreezing use: unfreezing a stage must not shift its features."""
    apply_freeze(model, "last:2", bn_policy="fixed")
    model.train()
    bns = [bn for s in model.stages() for bn in s.batchnorms]
    before = [bn.running_mean.clone() for bn in bns]
    with torch.no_grad():
        model(batch()[0] * 3 + 1)
    assert all(torch.equal(b, bn.running_mean) for b, bn in zip(before, bns))
    assert any(p.requires_grad for _, p in model.stages()[-2].parameters)  # stage7 still trains
