"""Feature space of source and target: domain-gap measures (gap), the probe set a run
snapshots (probe), 2-D layouts computed beside training (layout), the files they live in
(snapshots), and the same map of the pretrained backbone before any training (pretrained).
Only the measures are imported here: ``python -m tlcore.embed.layout`` must not be."""
from .gap import domain_gap, knn_accuracy, mmd2, proxy_a_distance, stratified_probe

__all__ = ["domain_gap", "knn_accuracy", "mmd2", "proxy_a_distance", "stratified_probe"]
