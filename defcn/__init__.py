"""DeFCN (POTO + 3D Max Filtering + auxiliary loss) for detectron2. Importing registers ``DeFCN``."""

from .config import add_defcn_config
from .modeling import DeFCN, DeFCNAssigner, DeFCNHead, MaxFiltering3D

__all__ = ["add_defcn_config", "DeFCN", "DeFCNAssigner", "DeFCNHead", "MaxFiltering3D"]
