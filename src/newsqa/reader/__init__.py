"""The reader: a small cross-encoder, trained by newsqa from the MiniLM weights it ships, that
scores how well a candidate sentence answers a question (:mod:`newsqa.reader.runtime` runs the
shipped ONNX graph; :mod:`newsqa.reader.train` rebuilds it and is the only part that needs
torch)."""
