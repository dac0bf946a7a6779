"""file:PATH weights: safetensors and plain torch files load; pickles with code are refused."""
import os
import pickle

import hostile_files as h
import pytest
import torch
from safetensors.torch import save_file

from tlcore.backbones import WeightsError, create_backbone


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_safetensors_roundtrip_of_a_finetuned_backbone(tmp_path):
    torch.manual_seed(0)
    tuned = create_backbone("dann_digits_cnn", "none", num_classes=10)
    save_file(tuned.state_dict(), tmp_path / "tuned.safetensors")
    loaded = create_backbone("dann_digits_cnn", f"file:{tmp_path / 'tuned.safetensors'}", num_classes=10)
    assert same_weights(tuned, loaded)


def test_torch_file_in_the_original_model_layout(tmp_path):
    import torchvision
    torch.manual_seed(0)
    original = torchvision.models.resnet18()
    torch.save({"state_dict": original.state_dict()}, tmp_path / "r18.pt")
    model = create_backbone("resnet18", f"file:{tmp_path / 'r18.pt'}").eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), original.eval()(x), atol=1e-5)


def test_head_of_another_class_count_is_replaced_not_an_error(tmp_path):
    tuned = create_backbone("dann_digits_cnn", "none", num_classes=10)
    save_file(tuned.state_dict(), tmp_path / "ten.safetensors")
    model = create_backbone("dann_digits_cnn", f"file:{tmp_path / 'ten.safetensors'}", num_classes=3)
    assert model.num_classes == 3
    assert torch.equal(model.body.conv1[0].weight, tuned.body.conv1[0].weight)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_pickle_with_a_payload_is_refused_and_never_runs(tmp_path, writer):
    marker = tmp_path / "pwned"
    state = {"conv1.0.weight": h.Payload(str(marker))}
    if writer == "pickle":
        with open(tmp_path / "evil.pt", "wb") as fh:
            pickle.dump(state, fh)
    else:
        torch.save(state, tmp_path / "evil.pt")
    with pytest.raises(WeightsError, match="refused to load 'evil.pt'.*run code"):
        create_backbone("dann_digits_cnn", f"file:{tmp_path / 'evil.pt'}")
    assert not marker.exists()


def test_shape_mismatch_names_the_layers(tmp_path):
    other = create_backbone("resnet18", "none")
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, tmp_path / "r18.safetensors")
    with pytest.raises(WeightsError, match="does not fit this backbone: .* other shapes: body\\.layer1\\.0\\.conv1"):
        create_backbone("resnet50", f"file:{tmp_path / 'r18.safetensors'}")


@pytest.mark.parametrize("content, message", [
    (b"", "not a readable PyTorch weights file|not a valid safetensors"),
    (b"not weights at all", "not a readable PyTorch weights file"),
])
def test_garbage_files_give_clear_errors(tmp_path, content, message):
    (tmp_path / "w.bin").write_bytes(content)
    with pytest.raises(WeightsError, match=message):
        create_backbone("dann_digits_cnn", f"file:{tmp_path / 'w.bin'}")


def test_missing_file(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        create_backbone("dann_digits_cnn", f"file:{tmp_path / 'nope.safetensors'}")
    assert not os.path.exists(tmp_path / "nope.safetensors")
