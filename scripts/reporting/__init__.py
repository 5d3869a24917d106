"""Self-contained HTML reports with inline SVG plots (no JavaScript, no network)."""
