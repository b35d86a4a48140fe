"""Training-loop settings (detectron2's ``common/train.py``) plus d2dense's keys:
``scale`` ("paper" or "cpu", see d2dense.config.apply_scale) and ``train.seed``."""
from detectron2 import model_zoo

train = model_zoo.get_config("common/train.py").train
train.seed = 0
optimizer = model_zoo.get_config("common/optim.py").SGD
optimizer.lr = 0.01
scale = "paper"
