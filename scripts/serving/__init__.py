"""Real-time inference for SageMaker: handler.py (the contract as a function), app.py (WSGI), server.py (process)."""
