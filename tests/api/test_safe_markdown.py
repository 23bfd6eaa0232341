"""The Markdown of /v1 replies: no images, no links but web ones, whole or in pieces."""

from __future__ import annotations

import random

import pytest

from newsqa.api.safe_markdown import MarkdownStream, safe_markdown


@pytest.mark.parametrize(("text", "safe"), [
    ("See ![x](http://t.example/p.png).", "See x."),
    ("[a](javascript:alert(1)) [b](JaVaScRiPt:x) [c](data:text/html,hi)", "[a]) [b] [c]"),
    ("[d](/relative) [e](javascript&colon;x) [f](vbscript:x)", "[d] [e] [f]"),
    ("[ok](https://a.example/x) [ok2]( <http://b.example>)",
     "[ok](https://a.example/x) [ok2]( <http://b.example>)"),
    ("![i][r]\n[r]: javascript:x\n[s]: https://ok.example", "[i][r]\n[r]\\: javascript:x\n"
     "[s]: https://ok.example"),
    ("<javascript:alert(1)> <https://ok.example>", "javascript:alert(1) <https://ok.example>"),
    ('<img src=x onerror=alert(1)>ok <a href="javascript:x">t</a> <a href="https://w.example">u</a>',
     'ok t</a> <a href="https://w.example">u</a>'),
    ("An answer [1]. Another [2].", "An answer [1]. Another [2]."),
])
def test_unsafe_markdown_is_taken_out(text: str, safe: str) -> None:
    assert safe_markdown(text) == safe


def test_pieces_give_what_the_whole_gives() -> None:
    """A link or image split across stream pieces is caught as in one text."""
    text = ("Hi [1](javascript:alert(1)) ![im](http://x.example/y.png) more [2]. "
            "<a href=javascript:z>q</a> end\n[r]: javascript:x\n[r] and [w](https://w.example)!")
    for seed in range(200):
        rng, stream, out, i = random.Random(seed), MarkdownStream(), "", 0
        while i < len(text):
            j = i + rng.randint(1, 7)
            out += stream.feed(text[i:j])
            i = j
        assert out + stream.end() == safe_markdown(text), seed
