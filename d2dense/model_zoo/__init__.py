"""Model zoo, as detectron2's: configs by name, checkpoint URLs, and built models.

    from d2dense import model_zoo
    cfg = model_zoo.get_config("DeFCN/poto_3dmf_aux_R_50_FPN_3x.py")
    model = model_zoo.get("cpu/memorisation/DeFCN/poto_3dmf_aux_R_50_FPN_3x.py", trained=True)

See MODEL_ZOO.md for the table of published models.
"""

from .model_zoo import (
    CPU_MODELS,
    MODEL_ZOO_ENV,
    get,
    get_checkpoint_url,
    get_config,
    get_config_file,
    list_models,
    model_zoo_root,
    publish_checkpoint,
)

__all__ = [
    "CPU_MODELS",
    "MODEL_ZOO_ENV",
    "get",
    "get_checkpoint_url",
    "get_config",
    "get_config_file",
    "list_models",
    "model_zoo_root",
    "publish_checkpoint",
]
