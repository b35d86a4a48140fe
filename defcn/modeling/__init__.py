from .assignment import DeFCNAssigner
from .defcn import DeFCN, focal_loss_on_probs
from .head import DeFCNHead
from .max_filter import MaxFiltering3D, keep_local_maxima_3d, max_filter_3d
