"""Scoring a race card: the one code path behind the stream and POST /predict."""
