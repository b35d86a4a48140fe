#!/usr/bin/env python
"""d2dense: NMS-free and single-level dense detectors for detectron2.

Packages:
  matchcost  - label-assignment library (costs, spatial priors, one-to-one / top-k solvers);
               torch + scipy only, no detectron2 import.
  d2dense    - detectron2 glue shared by every method: data registration, NMS-aware and crowd
               evaluators, common model pieces, model zoo.
  defcn, pss, onenet, yolof - one detectron2 meta-architecture package per paper (as delivered).

torch / torchvision and detectron2 are not declared here: see requirements-torch.txt and
tools/install_detectron2.sh (the Makefile installs all three), so that an existing GPU build of
either is never replaced.
"""
from setuptools import find_packages, setup

setup(
    name="d2dense",
    version="0.1.0",
    description="NMS-free and single-level dense detectors (DeFCN, PSS, OneNet-style, YOLOF) for detectron2",
    python_requires=">=3.10",
    packages=find_packages(exclude=("tests", "tests.*", "configs", "benchmarks", "projects", "tools")),
    install_requires=[
        "fvcore",
        "pycocotools>=2.0.2",
        "scipy>=1.9",
        "opencv-python-headless",
        "black",
        "setuptools<81",
        "omegaconf>=2.1,<2.4",
        "hydra-core>=1.1",
    ],
    extras_require={"test": ["pytest", "hypothesis"]},
)
