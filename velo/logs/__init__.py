"""The prediction log sink (JSONL, rotated) and its reader."""
