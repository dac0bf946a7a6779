"""Pretrained backbones behind one registry; importing this imports every module of the
package, so each family (one file: dann_cnn.py, timm_family.py, torchvision_family.py, ...)
registers its models. See CONTRIBUTING.md for adding one."""
from ..config import DEFAULT_BACKBONE
from ..registry import import_submodules
from .base import HEAD, Backbone, BackboneInfo, Stage
from .registry import (WEIGHT_CHOICES, BackboneSpec, backbone_info, create_backbone, get_spec, list_backbones,
                       load_weights_into, register_backbone, register_backbone_prefix)
from .weights import WeightsError, WeightsUnavailable, keep_weights_file, load_state_dict_file

import_submodules(__name__, __path__)


__all__ = [
    "DEFAULT_BACKBONE", "HEAD", "WEIGHT_CHOICES", "Backbone", "BackboneInfo", "BackboneSpec", "Stage",
    "WeightsError", "WeightsUnavailable", "keep_weights_file", "backbone_info", "create_backbone", "get_spec",
    "list_backbones",
    "load_state_dict_file", "load_weights_into", "register_backbone", "register_backbone_prefix",
]
