"""The tabular binary classifier: pure functions on DataFrames, no SageMaker inside."""
