"""The reader at serving time: a dual encoder, trained by newsqa from the MiniLM weights it
ships, that embeds the question and each candidate sentence apart and scores how well the
candidate answers by their cosine (:mod:`newsqa.reader.runtime` runs the shipped ONNX graph,
:mod:`newsqa.reader.dual` its head). Nothing here imports torch or the query pipeline; the
reader is trained by :mod:`newsqa.training`."""
