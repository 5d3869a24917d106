"""Tasks: one pure core per kind of model (clean, split, fit, evaluate, score), free of SageMaker."""
