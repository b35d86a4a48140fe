"""Training-loop settings (detectron2's ``common/train.py``) plus d2dense's keys ``train.seed`` and
``train.cpu_scale_hook`` (dotted path of a function that completes the small CPU variant for
models that are not ResNet-FPN; see d2dense.config.apply_scale). The scale itself is chosen on the
command line (``scale=cpu``); it is not a key of the config files."""

from detectron2 import model_zoo

train = model_zoo.get_config("common/train.py").train
train.seed = 0
train.cpu_scale_hook = None
optimizer = model_zoo.get_config("common/optim.py").SGD
optimizer.lr = 0.01
