import os
import sys

import pytest
import torch

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))

SHARED_DATA = os.environ.get("D2DENSE_SHARED_DATA", os.path.join(REPO_ROOT, "..", "shared", "data"))
requires_shared_data = pytest.mark.skipif(
    not os.path.isdir(SHARED_DATA), reason="../shared/data is not present on this machine"
)
