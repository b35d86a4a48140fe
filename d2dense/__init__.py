"""d2dense: detectron2 glue shared by every method of this repository.

- ``d2dense.data``: registration of COCO-format sets shipped in ``../shared/data`` and ``datasets/``,
  CrowdHuman (``.odgt``), and the sanitiser that turns bad annotations into logged skips.
- ``d2dense.evaluation``: NMS-aware COCO evaluation (w/ and w/o NMS in one pass) and the crowd
  evaluator (AP@0.5, mMR, recall with ignore regions).
- ``d2dense.modeling``: pieces shared by the detectors (small CPU backbones, registered FCOS/RetinaNet
  baselines).
"""

__version__ = "0.1.0"
