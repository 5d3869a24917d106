"""A local stand-in for SageMaker: lays out /opt/ml trees, runs each step, moves outputs on."""
