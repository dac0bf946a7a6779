"""L2-SP (Li, Grandvalet and Davoine, ICML 2018): fine-tuning that keeps the network near its
pretrained starting point. Plain weight decay pulls every weight towards zero, which
forgets what pretraining learnt; L2-SP penalises the distance to the starting weights w0
instead, and gives only the new head the plain penalty:

    loss = cross-entropy + alpha/2 * ||w - w0||^2 (backbone weights that train)
                         + beta/2 * ||w_head||^2 (the new classifier)

The paper's values for its transfer tasks: alpha = 0.01 (tuned over 0.001-0.1), beta = 0.01.
"""
import torch

from .base import Strategy, StrategyInfo, accuracy, register_strategy


@register_strategy
class L2SP(Strategy):
    info = StrategyInfo(
        name="l2sp", family="model-based",
        description="Fine-tune under the freeze map, penalising the distance to the pretrained weights (L2-SP)",
        needs_source=False, needs_target_labels=True,
        defaults={"alpha": 0.01, "beta": 0.01},
        help={"alpha": "weight of ||w - w_pretrained||² over the backbone weights that train",
              "beta": "weight of ||w||² over the new classification head"},
        metrics={"sp_penalty": "L2-SP penalty"})

    def setup(self, context) -> None:
        super().setup(context)
        # The starting point: the weights before the first step (pretrained, or a file's). A
        # resumed run is set up before its checkpoint loads, so it keeps the original start.
        self.start_weights = {name: p.detach().clone() for name, p in self.backbone.body.named_parameters()}

    def penalty(self) -> torch.Tensor:
        body = [((p - self.start_weights[name]) ** 2).sum() for name, p in self.backbone.body.named_parameters()
                if p.requires_grad]
        head = [(p ** 2).sum() for p in self.backbone.head.parameters()]
        zero = torch.zeros((), device=next(self.backbone.head.parameters()).device)
        return self.hp["alpha"] / 2 * sum(body, zero) + self.hp["beta"] / 2 * sum(head, zero)

    def training_step(self, batch, progress):
        x, y = batch["tgt_x"], batch["tgt_y"]
        cls_loss, _, logits = self.classify(x, y)
        penalty = self.penalty()
        return {"loss": cls_loss + penalty, "cls_loss": cls_loss.detach(), "train_acc": accuracy(logits, y),
                "sp_penalty": penalty.detach()}
