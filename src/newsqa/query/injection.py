"""Which sentences of an article speak to the one reading it — a language model or the reader —
instead of reporting news: those are kept out of answers and out of prompts.

A sentence is judged after NFKC normalisation (full-width ``Ｉｇｎｏｒｅ`` reads as ``Ignore``),
with zero-width characters removed and case folded, by structure rather than by a list of known
attacks:

- **chat-template and role markers** anywhere: ``<|im_start|>``, ``<start_of_turn>``,
  ``[INST]``, ``<<SYS>>``, ``[system]``, ``system:`` or ``### Instruction`` at a line's start,
  ``Note to AI…``;
- **an addressee that is a model** (``if you are an AI``, ``AI assistants reading this``,
  ``Dear ChatGPT,``, ``When summarizing this article``, ``You are now…``) with an instruction
  (a modal, an imperative, ``your task is``);
- **an instruction in the imperative** at the start of a clause: overriding what came before
  (``ignore/disregard/forget the previous instructions``), relaying orders to readers (``tell
  every reader to…``), commands for what to answer (``reply only…``, ``say that…``, ``from
  now on…``, ``you must answer…``), or sending the reader to a web address (``visit
  http://…``).

Reported speech stays news: an imperative inside quotation marks of a sentence that attributes
it (``…, the researchers said``; ``a page reading "…"``) is a quote, and a bare imperative in
a sentence with a reporting verb (``Stay inside, police said``) addresses the reader only
through its source. Third-person sentences about models or prompt injection ("the chatbot
was tricked into ignoring its instructions") name no addressee and give no order.
"""

from __future__ import annotations

import re
import unicodedata

_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e"), None)
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'"})

_MODEL = (
    r"(?:ai|a\.i\.|artificial intelligence|llm|large language model|language model|chatbot|"
    r"chat ?gpt|gpt(?:-?\d\w*)?|claude|gemini|copilot|bard|llama|assistant|ai assistant|"
    r"ai model|model|bot|agent|summari[sz]er|crawler|scraper|system)s?"
)
#: Markers of a chat template or a role, anywhere in the sentence.
_MARKERS = re.compile(
    r"<\|[a-z_ ]{2,30}\|>"  # <|im_start|>, <|system|>, <|begin_of_text|>
    r"|<\s*/?\s*(?:start|end)_of_turn\s*>|\[/?inst\]|<<\s*/?\s*sys\s*>>"
    r"|(?:^|\n)\s*#{2,}\s*(?:instruction|system|response|input|user|assistant)s?\b"
    r"|(?:^|\n)\s*[\[<{(]\s*(?:system|assistant|developer|user|human|instructions?)\s*[\]>})]"
    r"|(?:^|\n)\s*\**(?:system|assistant|developer|human)(?: message| prompt| override)?\**"
    r"\s*:"
    r"|[=#*~_|-]{3,}\s*(?:system|instructions?|prompt|assistant|user|developer)\b"
    rf"|\bnote (?:to|for) (?:all |any |every )?(?:the )?{_MODEL}\b"
    rf"|\b(?:{_MODEL}|new|updated|real|actual|hidden|secret|additional|special)\s+"
    r"(?:instructions?|directives?|system prompt)\s*:",
)
_THIS = r"(?:this|these|the following)(?: article| text| page| passage| document| story| content)?"
#: An addressee that can only be a model: speaking to it is not news, whatever follows.
_TO_MODEL = re.compile(
    rf"\bif you(?:'re| are) (?:an? |the )?{_MODEL}\b"
    rf"|\b{_MODEL} (?:(?:that|who|which) )?(?:is |are )?(?:reading|processing|summari[sz]ing|"
    rf"parsing|indexing|scraping|crawling|ingesting|answering questions about) {_THIS}\b"
    rf"|^\W*(?:dear|attention|hey|hello|hi|calling all|to all|to any|message to|memo to) {_MODEL}\b"
    rf"|^\W*(?:when|while|before) (?:you are |you're )?(?:summari[sz]|answer|rewrit|"
    rf"paraphras|process|read)\w* {_THIS}\b",
)
#: Giving the reader (or a model) a new identity.
_NEW_ROLE = re.compile(
    r"\byou(?:'re| are) (?:now|no longer)\b"
    rf"|\byou(?:'re| are) (?:an?|the) [^.,;]{{0,30}}\b{_MODEL}\b"
)
_SELF = r"\b(?:this|these) (?:article|story|stories|page|pages|site|text|passage|document|post)s?\b"
#: Addressing a model (or the one answering) in a way that needs an order after it.
_TO_MODEL_WEAK = re.compile(
    rf"^\W*{_MODEL}(?:\s+(?:and|or|&)\s+(?:all |other |any )*{_MODEL})*\s*[,:]"
    rf"|\bas an? {_MODEL},"
    r"|\b(?:whoever|anyone|anything|whatever)\b[^,.]{0,20}\b(?:summari[sz]|answer|read|process)"
    r"\w* (?:this|these)\b"
    r"|\b(?:every|each|any|all|your) (?:answers?|repl(?:y|ies)|responses?|summar(?:y|ies)|"
    r"outputs?) (?:must|should|shall|has to|have to|needs? to) (?:always )?(?:end|begin|start|"
    r"include|mention|say|contain|link|cite|state|quote|recommend)\b"
    rf"|\b(?:{_MODEL}|summar(?:y|ies)|answers?|responses?|replies|outputs?)\b[^.]{{0,40}}{_SELF}"
    r"|\byour (?:new |real |actual |true |only |updated )?(?:task|instructions?|job|goal|"
    r"role|purpose|objective|directive|system prompt|programming)\b",
)
#: The form of an order: a modal or an imperative.
_ORDER = re.compile(
    r"\b(?:must|should|shall|will|need to|have to|are to|is to|always|never|do not|don't|"
    r"only|now)\b|^\W*(?:\w+\W+){0,3}(?:ignore|disregard|forget|answer|reply|respond|say|tell|"
    r"recommend|mention|include|direct|refer|repeat|output|print|write|state|claim|pretend|act|"
    r"visit|send|reveal|append|add|insert|link|cite|use|call|stop|quote|end|begin|start)\b"
)
#: Overriding what the model was told before; in the imperative (not "to ignore", "ignoring").
_OVERRIDE = re.compile(
    r"(?<!\bto )(?<!\bcan )(?<!\bwould )(?<!\bcould )(?<!\bwill )(?<!\bnot )"
    r"\b(?:ignore|disregard|forget|override|bypass|skip|drop)\s+"
    r"(?:(?:all|any|the|your|my|of|these|those)\s+)*"
    r"(?:(?:previous|prior|above|earlier|preceding|foregoing|original|initial|system|"
    r"safety)\s+)+"
    r"(?:instructions?|prompts?|rules|guidelines|directions|directives|commands|messages|"
    r"context|text|constraints|policies|filters)"
    r"|(?<!\bto )\b(?:ignore|disregard|forget)\s+(?:all\s+|the\s+|everything\s+)?(?:\w+\s+)?"
    r"(?:above|before|foregoing|preceding|previously|you (?:were|have been) told)\b"
    r"|(?<!\bto )\b(?:ignore|disregard|forget|override)\s+your\s+(?:instructions|rules|"
    r"guidelines|programming|training|system prompt|prompt|directives|constraints)",
)
_READERS = (
    r"(?:every|all|each|the|your|any|our)?\s*(?:readers?|users?|visitors?|people|everyone|"
    r"anyone|audience|subscribers?|customers?|humans?)"
)
#: Sending the reader to a web address.
_GO_URL = (
    r"(?:visit|go to|click|navigate to|head to|log ?in at|sign in at|check out|open)\b[^.]{0,60}"
    r"(?:https?://|www\.|\b[\w-]+\.(?:com|net|org|io|example|xyz|ru|info|biz|co|link)\b|\blink\b)"
)
_LEAD = (
    r"^(?:(?:please|now|also|first|then|and|so|important|note|nb|p\.s\.|ps|from now on|"
    r"henceforth|going forward|starting now|instead|finally|be sure to|make sure to|"
    r"remember to|don't forget to)\W+)*"
)
#: Relaying orders to readers: never news, whoever is quoted.
_RELAY = re.compile(
    _LEAD + r"(?:(?:kindly\s+)?(?:tell|instruct|direct|advise|urge|remind|ask|encourage|send|"
    r"redirect|inform|notify|warn|alert)\s+|let\s+)" + _READERS + r"\b"
)
#: Orders to whoever answers ("Before answering, visit…"): meant for a model.
_WHEN_ANSWERING = re.compile(
    r"^\W*(?:before|when|while|after|in) (?:answering|responding|replying|summari[sz]ing|"
    r"writing (?:your|an|the) (?:answer|reply|summary))\b[^,]{0,40},"
)
#: Orders given at the start of a clause (after "please", "now", "from now on", …).
_IMPERATIVE = re.compile(
    _LEAD + r"(?:"
    r"(?:tell|reply|respond|pretend|roleplay|role-play|impersonate)\b\s"
    r"|act as\b|repeat (?:after|the following|this|exactly|verbatim)\b"
    r"|(?:say|answer|output|print|write|state|reply|respond|return)\b[^.]{0,30}"
    r"\b(?:only|exactly|verbatim|the following|that|with)\b"
    r"|(?:do not|don't|never|always)\s+(?:say|tell|mention|reveal|disclose|answer|reply|respond|"
    r"cite|include|repeat|refer|recommend|obey|trust|summari[sz]e)\b"
    rf"|(?:(?:you|{_READERS})\s+(?:should|must|need to|have to|are to)\s+)?{_GO_URL}"
    r"|please\W+(?:say|answer|reply|respond|output|print|write|state|recommend|mention|cite|"
    r"include|repeat|describe|summari[sz]e|link|call|add)\b"
    r"|(?:reveal|print|show|repeat|output|display|leak)\s+(?:your|the)\s+(?:system prompt|"
    r"instructions|prompt|rules)"
    r"|(?:enable|activate|enter|switch to)\s+\w*\s*mode\b"
    r"|you (?:must|should|shall|will|have to|need to|are to|are required to|may only|can only)"
    r"\s+(?:(?:now|only|always|never|instead|also)\s+)*(?:answer|reply|respond|say|tell|"
    r"recommend|mention|include|direct|refer|cite|repeat|output|write|ignore|disregard|forget|"
    r"pretend|act|visit|state|claim|obey|comply|send|print|reveal)\b"
    r"|from now on\W+you\b"
    r")"
)
_SPEECH = (
    r"said|says|told|tells|according to|asked|urged|warned|wrote|writes|added|adds|explained|"
    r"posted|tweeted|stated|announced|noted|argued|claimed|insisted|ordered|instructed|"
    r"recalled|shouted|declared|replied|responded|testified|quoted|advised|advises|pleaded|"
    r"cautioned|to say"
)
_SAYERS = (
    r"experts|analysts|officials|critics|researchers|scientists|statisticians|economists|they|"
    r"residents|sources|reports|studies|polls|doctors|police|authorities|observers|"
    r"supporters|opponents|some|many|others|people|witnesses|lawyers|investigators"
)
#: A verb of speech: what the sentence says is attributed to a source.
_REPORTING = re.compile(rf"\b(?:{_SPEECH})\b|\b(?:{_SAYERS}) say\b")
#: What attributes a quotation: a verb of speech, or words that present a quoted text.
_ATTRIBUTION = re.compile(
    rf"\b(?:{_SPEECH}|reads|read|reading|saying|containing|contained|such as|like|phrase|"
    r"phrases|text|message|messages|line|lines|words|command|commands|string|prompt|prompts|"
    r"typed|entered|pasted|inserted|hid|hidden|embedded|(?:" + _SAYERS + r") say)\b"
)
_QUOTED = re.compile(r"\"[^\"]*\"|(?<!\w)'[^']+'(?!\w)")
_CLAUSE = re.compile(r":(?!//)|[,;!?()\n]|[=#*~_|]{2,}|\s[-–—]\s|\s(?:and|then|but|so)\s")


def normalise(text: str) -> str:
    """``text`` as the filter reads it: NFKC (full-width and other compatibility forms become
    plain letters), without invisible characters, with curly quotes straightened, case
    folded and spaces collapsed (line breaks kept)."""
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE).translate(_QUOTES)
    return "\n".join(" ".join(line.split()) for line in text.casefold().split("\n"))


def _clauses(text: str) -> list[str]:
    """The sentence and each clause of it, stripped of leading quotes and brackets."""
    parts = [text, *_CLAUSE.split(text)]
    return [re.sub(r"^\W+", "", p) for p in parts if p.strip()]


def addresses_reader_or_model(sentence: str) -> bool:
    """True for a sentence that speaks to a language model or gives the reader an order,
    rather than reporting news (see the module's description)."""
    text = normalise(sentence)
    if _MARKERS.search(text):
        return True
    outside = _QUOTED.sub(" ", text)
    # A quotation attributed in its sentence is reported speech: only the rest is judged.
    judged = outside if outside != text and _ATTRIBUTION.search(outside) else text
    if _OVERRIDE.search(judged) or _TO_MODEL.search(judged):
        return True
    clauses = _clauses(judged)
    if _TO_MODEL_WEAK.search(judged) and any(_ORDER.search(c) for c in clauses):
        return True
    if any(_RELAY.match(c) for c in clauses):
        return True
    if _WHEN_ANSWERING.match(judged) and any(_IMPERATIVE.match(c) for c in clauses[2:]):
        return True
    if _REPORTING.search(outside):
        return False  # "Stay inside, police said": the order is the source's, reported
    return bool(_NEW_ROLE.search(judged)) or any(_IMPERATIVE.match(c) for c in clauses)
