"""Query: retrieve → fuse → rerank → compose."""
