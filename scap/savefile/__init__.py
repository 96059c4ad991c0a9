"""Capture files: `reader` (scap.open), `writer` (scap.Writer), `blocks` (block bodies)."""
