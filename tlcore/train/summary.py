"""What a run reports when it ends."""
from __future__ import annotations

from ..metrics import SCALARS
from .state import LoopState


def build_summary(config, ctx, state: LoopState, before: dict | None, device: str, precision: str, cached: bool,
                  wall: float, n_params: int) -> dict:
    """The summary of a run (summary.json, the run store, TrainResult.summary): a flat JSON
    object; the numbers are named '<domain>.<split>.<metric>' as in the metric events,
    'best.' the best validation epoch's, 'before.' the untrained network's probe."""
    history, metrics, best_epoch, train_seconds = state.history, state.metrics, state.best_epoch, state.train_seconds
    summary = {"status": state.status, "error": state.error, "epochs_run": len(history), "best_epoch": best_epoch,
               "strategy": config.strategy.name, "backbone": config.model.backbone,
               "weights": config.model.weights, "freeze": config.model.freeze,
               "device": device, "precision": precision, "feature_cache": cached,
               "wall_time_s": round(wall, 2), "train_time_s": round(train_seconds, 2),
               "throughput_img_s": round(state.images_seen / train_seconds, 1) if train_seconds else None,
               "params": n_params, "class_names": list(ctx.data.class_names), "warnings": ctx.warnings,
               # Evaluation is sharded over the processes and the predictions gathered.
               "world_size": ctx.fabric.world_size}
    summary.update({k: v for k, v in metrics.items() if not isinstance(v, dict)})
    if best_epoch and history:
        best = history[best_epoch - 1] if best_epoch - 1 < len(history) else history[-1]
        summary.update({f"best.{k}": v for k, v in best.items() if k != "epoch"})
    if before is not None:
        summary.update({f"before.target.test.{k}": before[k] for k in SCALARS})
        summary["before.method"] = ("logistic regression on the untrained network's features (same split, its L2 "
                                  "strength chosen on " + ("target" if len(ctx.data.target_labelled) else "source")
                                    + " val)")
    if "target.test.details" in metrics:
        summary["target.test.per_class"] = metrics["target.test.details"]["per_class"]
        summary["target.test.confusion_matrix"] = metrics["target.test.details"]["confusion_matrix"]
    return summary
