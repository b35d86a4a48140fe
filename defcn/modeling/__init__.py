from .assignment import DeFCNAssigner
from .defcn import DeFCN, product_sigmoid_focal_loss
from .head import DeFCNHead
from .max_filter import MaxFiltering3D
