"""The pipelines as data (`spec`), and the formats of what passes between steps (`evaluation_file`)."""
