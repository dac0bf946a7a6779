"""L2-SP, the strategy added as one file (CONTRIBUTING.md): its penalty against the paper's
formula computed apart, and what it does to real fine-tuning of the pretrained default."""
import numpy as np
import torch

from tlcore import fit
from tlcore.backbones import create_backbone
from tlcore.config import DataConfig, ModelConfig, OptimConfig, RunConfig, ScheduleConfig, StrategyConfig
from tlcore.strategies import create_strategy, list_strategies, strategy_info


def test_registered_from_its_file_alone():
    assert "l2sp" in list_strategies()
    info = strategy_info("l2sp")
    assert info.family == "model-based" and info.metrics == {"sp_penalty": "L2-SP penalty"}


def test_penalty_is_the_papers_formula():
    """alpha/2 ||w - w0||² over the trainable backbone weights + beta/2 ||w_head||², in NumPy."""
    torch.manual_seed(0)
    backbone = create_backbone("dann_digits_cnn", "none", num_classes=10)
    strategy = create_strategy("l2sp", backbone, 10, {"alpha": 0.3, "beta": 0.07}, freeze="conv1")
    strategy.setup(None)
    start = {n: p.detach().numpy().copy() for n, p in backbone.body.named_parameters()}
    with torch.no_grad():
        for p in backbone.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    trainable = {n for n, p in backbone.body.named_parameters() if p.requires_grad}
    assert trainable and len(trainable) < len(start)  # conv1 frozen: its drift is not penalised
    body = {n: p.detach().numpy() for n, p in backbone.body.named_parameters()}
    expected = 0.3 / 2 * sum(((body[n] - start[n]) ** 2).sum() for n in trainable) \
        + 0.07 / 2 * sum((p.detach().numpy() ** 2).sum() for p in backbone.head.parameters())
    assert np.isclose(strategy.penalty().item(), expected, rtol=1e-5)


def test_a_strong_penalty_keeps_the_pretrained_weights_closer():
    """The same fine-tune of the pretrained default, with L2-SP's pull to the start and without."""
    def drift(strategy: str, params: dict) -> float:
        config = RunConfig(data=DataConfig(target="syndigits", per_class=10, image_size=32),
                           model=ModelConfig(freeze="last:1"), strategy=StrategyConfig(strategy, params),
                           optim=OptimConfig(lr=3e-3, weight_decay=0.0), schedule=ScheduleConfig(epochs=2),
                           batch_size=16)
        result = fit(config)
        start = create_backbone(config.model.backbone, "imagenet", num_classes=10).body.state_dict()
        trained = result.strategy.backbone.body.state_dict()
        return float(sum(((trained[n].float() - start[n].float()) ** 2).sum() for n, p in
                         result.strategy.backbone.body.named_parameters() if p.requires_grad))

    assert drift("l2sp", {"alpha": 10.0, "beta": 0.0}) < 0.5 * drift("finetune", {})
