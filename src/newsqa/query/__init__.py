"""Query: plan → retrieve (fuse, rerank) → evidence → compose or read → generate, the stages of
:class:`newsqa.query.answer.AnswerPipeline`."""
