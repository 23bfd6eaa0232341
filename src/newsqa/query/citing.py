"""One citation per article: the passages of an article that an answer quotes share one number,
and its citation shows them as one text (:func:`join_passages`)."""

from __future__ import annotations

from collections.abc import Sequence

from newsqa.records import Citation, Passage

#: What stands between two passages of an article that do not adjoin.
GAP = " … "
_SENTENCE_END = ('.', '!', '?', '"', "'", "”", "’", ")")


def join_passages(chunks: Sequence[tuple[int, str]]) -> str:
    """The texts of one article's passages, ``(chunk_id, text)``, as one text in article order.

    Consecutive passages of an article repeat the last sentences of the one before
    (:func:`newsqa.ingest.chunk.chunk_text`): of two adjoining ones (consecutive ids) the
    repeated sentences are written once; passages that do not adjoin are separated by " … ".
    Every passage is a substring of the result, so every quote of one is found in it.
    """
    out = ""
    last = None
    for cid, text in sorted(dict(chunks).items()):
        if last is None:
            out = text
        elif cid == last + 1 and (k := _overlap(out, text)):
            out += text[k:]
        elif cid == last + 1:
            out += " " + text
        else:
            out += GAP + text
        last = cid
    return out


def _overlap(before: str, after: str) -> int:
    """The length of the longest run of whole sentences that ends ``before`` and starts
    ``after`` (0: none)."""
    for k in range(min(len(before), len(after)), 0, -1):
        if (
            (k == len(after) or after[k] == " ")
            and after[:k].endswith(_SENTENCE_END)
            and (k == len(before) or before[-k - 1] == " ")
            and before.endswith(after[:k])
        ):
            return k
    return 0


def article_citation(n: int, uses: Sequence[tuple[Passage, str]]) -> Citation:
    """Citation ``n`` of one article from its ``uses`` (a cited passage and the words quoted
    from it, in order of use): the first passage's article and id, every quoted piece once
    (joined by " … "), and the cited passages joined (:func:`join_passages`)."""
    first = uses[0][0]
    return Citation(
        n=n,
        article_id=first.article_id,
        chunk_id=first.chunk_id,
        url=first.url,
        title=first.title,
        source=first.source,
        published_at=first.published_at,
        quote=GAP.join(dict.fromkeys(quote for _, quote in uses)),
        passage=join_passages([(p.chunk_id, p.text) for p, _ in uses]),
    )
