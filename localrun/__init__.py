"""A local stand-in for SageMaker: interprets the pipeline spec, lays out /opt/ml trees, runs each
step as a process or a container, moves outputs on as S3 would, caches steps and records lineage.

`scripts/` must be importable (the venv's .pth file, made by `make setup`, or pytest's pythonpath),
as it is inside the images.
"""
