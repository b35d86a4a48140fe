"""PSS (positive sample selector) for detectron2: NMS-free FCOS_PSS and ATSS_PSS.

Importing registers ``FCOS_PSS`` and ``ATSS_PSS`` in detectron2's ``META_ARCH_REGISTRY``.
"""

from .config import add_pss_config
from .modeling import ATSS_PSS, FCOS_PSS, PSSDetector, PSSHead

__all__ = ["add_pss_config", "ATSS_PSS", "FCOS_PSS", "PSSDetector", "PSSHead"]
