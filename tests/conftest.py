import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
sys.path.insert(0, str(TESTS))  # hostile_files and helpers

# CI installs the Debian data packages and sets this, so the domain tests cannot be
# skipped there; on a developer machine without them they skip with the reason.
REQUIRE_DEBIAN_DATA = os.environ.get("TLSTUDIO_REQUIRE_DEBIAN_DATA") == "1"


def need_domain(name: str):
    from tlcore.data import domain_info
    missing = domain_info(name).availability()
    if missing and REQUIRE_DEBIAN_DATA:
        pytest.fail(f"CI must have the data for {name}: {missing}")
    if missing:
        pytest.skip(missing)


@pytest.fixture(scope="session")
def lite0():
    """The real embedded pretrained default, with its ImageNet head."""
    from tlcore.backbones import create_backbone
    return create_backbone("efficientnet_lite0", "imagenet").eval()
