"""Pretrained backbones behind one registry; importing this registers every family."""
from ..config import DEFAULT_BACKBONE
from . import dann_cnn, timm_family, torchvision_family  # noqa: F401  (registration)
from .base import HEAD, Backbone, BackboneInfo, Stage
from .registry import (WEIGHT_CHOICES, BackboneSpec, backbone_info, create_backbone, get_spec,
                       list_backbones, load_weights_into, register_backbone)
from .weights import WeightsError, WeightsUnavailable, keep_weights_file, load_state_dict_file


__all__ = [
    "DEFAULT_BACKBONE", "HEAD", "WEIGHT_CHOICES", "Backbone", "BackboneInfo", "BackboneSpec", "Stage",
    "WeightsError", "WeightsUnavailable", "keep_weights_file", "backbone_info", "create_backbone", "get_spec", "list_backbones",
    "load_state_dict_file", "load_weights_into", "register_backbone",
]
