#!/usr/bin/env python
"""Publish a finished training run into the d2dense model zoo (detectron2's checkpoint naming).

    python tools/publish_checkpoint.py --name cpu/memorisation/DeFCN/poto_3dmf_aux_R_50_FPN_3x.py \\
        --run-dir output/studies/defcn_core/memorisation/POTO+3DMF+Aux [--root DIR]

Checks the run is the zoo entry's recipe, writes ``<root>/<name>/<model_id>/model_final_<md5>.pth``
(weights only) with the run's config.yaml, metrics.json, eval_results.json and
inference_timing.json, and records them in ``<root>/manifest.json``; the root defaults to
``$D2DENSE_MODEL_ZOO`` or ``output/model_zoo``. Then ``d2dense.model_zoo.get(name, trained=True)``
and ``python tools/model_zoo_table.py`` (MODEL_ZOO.md's rows) find it.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from d2dense.model_zoo import model_zoo_root, publish_checkpoint  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--name", required=True, help="zoo name, e.g. cpu/memorisation/<config>.py")
    ap.add_argument("--run-dir", required=True, help="output dir of the finished run")
    ap.add_argument("--root", default=None, help="zoo folder (default: %(default)s -> env/output)")
    args = ap.parse_args(argv)
    record = publish_checkpoint(args.name, args.run_dir, args.root)
    root = args.root or model_zoo_root()
    for key, rel in record.items():
        print(f"{key}: {os.path.join(root, rel)}")
    return record


if __name__ == "__main__":
    main()
