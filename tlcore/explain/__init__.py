"""What the model looks at: Grad-CAM heat maps for any registered backbone or trained run."""
from .gradcam import CamExplainer, CamResult, heatmaps, overlay
from .run_images import RunImagesUnavailable, RunTestImages, run_test_images
from .target_layer import NoSpatialLayer, TargetLayer, resolve_target_layer

__all__ = ["CamExplainer", "CamResult", "NoSpatialLayer", "RunImagesUnavailable", "RunTestImages", "TargetLayer",
           "heatmaps", "overlay", "resolve_target_layer", "run_test_images"]
