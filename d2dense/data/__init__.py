from .builtin import REPO_ROOT, register_all, register_coco_detection, shared_data_root
from .coco_format import load_coco_detection_json, sanitize_annotations
from .crowdhuman import load_crowdhuman_odgt
from .mapper import SafeDatasetMapper

register_all()
