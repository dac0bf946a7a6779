import numpy as np
import pytest
import torch


@pytest.fixture(scope="session")
def syndigits_features():
    """``get(per_class)`` -> (syndigits ImageSet, its pretrained lite0 features at 48 px),
    each size computed once a session."""
    from tlcore.data import load_domain
    from tlcore.feasibility.curve import cached_features
    done = {}

    def get(per_class: int):
        if per_class not in done:
            s = load_domain("syndigits", per_class=per_class, seed=0)
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # next to another busy process: 0.8 s with one thread, 10 s with two
            try:
                done[per_class] = s, cached_features(s, np.arange(len(s)), image_size=48)
            finally:
                torch.set_num_threads(threads)
        return done[per_class]
    return get
