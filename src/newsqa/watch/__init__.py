"""Watched questions: a question a person asked once, answered again as the news arrives.

A watch keeps its question, filters and the answer last shown (:mod:`.records`), in the
catalogue's database (:mod:`.store`: ``news.sqlite`` or the PostgreSQL schema). After the archive
changes, :mod:`.check` re-asks only the watches that the new passages could answer (their
question's vector against the new chunks' vectors) and those whose cited articles were deleted
or updated, compares the new answer with the one last shown, and records a notice only where
there is new evidence, a first answer, or an answer that no longer holds. :mod:`.feed` writes a
watch's notices as Atom; :mod:`.deliver` posts them to a watch's webhook.
"""
