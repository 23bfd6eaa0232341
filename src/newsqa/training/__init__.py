"""Everything that trains or evaluates a model: the reader's candidate lists collected from
newsqa's own retrieval (:mod:`~newsqa.training.collect`), its torch network
(:mod:`~newsqa.training.dual`, :mod:`~newsqa.training.base`), the training run and ONNX export
(:mod:`~newsqa.training.train`), the fusion and calibration fit on the dev lists
(:mod:`~newsqa.training.fusion`) and the whole rebuild from question archives
(:mod:`~newsqa.training.rebuild`). It imports torch; no serving code imports it."""
