"""Small helpers for entry points: find the method packages that are installed."""

import importlib
import logging

__all__ = ["METHOD_PACKAGES", "import_method_packages", "yacs_config_adders"]

logger = logging.getLogger(__name__)

# package -> name of its yacs config adder
METHOD_PACKAGES = {
    "defcn": "add_defcn_config",
    "pss": "add_pss_config",
    "onenet": "add_onenet_config",
    "yolof": "add_yolof_config",
}


def import_method_packages():
    """Import every method package present, so their meta-architectures are registered."""
    found = []
    for name in METHOD_PACKAGES:
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as e:
            if e.name != name:  # the package exists but something it imports is missing
                raise
    return found


def yacs_config_adders():
    """``add_*_config`` functions of d2dense and every method package present."""
    from .config import add_fcos_config

    adders = [add_fcos_config]
    for module in import_method_packages():
        adders.append(getattr(module, METHOD_PACKAGES[module.__name__.split(".")[0]]))
    return adders
