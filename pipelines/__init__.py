"""The SageMaker Pipeline definition compiled from scripts/pipeline/spec.py (outside the images).

`pipelines.sagemaker` needs the SageMaker Python SDK (its own venv, `make pipelines-setup`);
`pipelines.validate` and `pipelines.inputs` need only botocore and the standard library.
"""
