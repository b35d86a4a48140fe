from .assignment import DeFCNAssigner
from .defcn import DeFCN, auxiliary_class_targets, auxiliary_focal_loss, product_sigmoid_focal_loss
from .fcos_aux import FCOSAux
from .head import DeFCNHead
from .max_filter import MaxFiltering3D
