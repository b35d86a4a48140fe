"""DeFCN (POTO + 3D Max Filtering + auxiliary loss) for detectron2. Importing registers ``DeFCN``
and ``FCOSAux`` (FCOS + the auxiliary loss, Table 5)."""

from .config import add_defcn_config
from .modeling import DeFCN, DeFCNAssigner, DeFCNHead, FCOSAux, MaxFiltering3D

__all__ = ["add_defcn_config", "DeFCN", "DeFCNAssigner", "DeFCNHead", "FCOSAux", "MaxFiltering3D"]
