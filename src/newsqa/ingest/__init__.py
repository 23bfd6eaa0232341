"""Ingest: load → clean → chunk → embed → index."""
