"""What the cores and the contract layer both need: errors with exit codes, atomic storage, table reading."""
