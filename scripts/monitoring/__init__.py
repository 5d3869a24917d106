"""Data-quality baselines and drift checks in SageMaker Model Monitor's formats (pure: no SageMaker paths)."""
