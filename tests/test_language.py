"""A question in another language than the archive's English: recognised, and the abstention
says so (the service makes the text, so the API, the CLI and the chat show the same)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsqa.cli import main
from newsqa.language import foreign_language, not_english_note
from tests.support import REPO

FOREIGN = {
    "French": "Que craint le gouvernement coréen au sujet du droit de légitime défense "
              "collective du Japon ?",
    "Spanish": "¿Qué teme el gobierno coreano sobre el derecho de autodefensa colectiva de Japón?",
    "German": "Was befürchtet die koreanische Regierung beim Recht Japans auf kollektive "
              "Selbstverteidigung?",
    "Chinese": "韩国政府担心日本的集体自卫权什么？",
    "Russian": "Чего опасается корейское правительство в связи с правом Японии на коллективную "
               "самооборону?",
}
ENGLISH = [
    "What does the Korean government fear about Japan's right of collective self-defense?",
    "What did Emmanuel Macron say about La France Insoumise?",
    "Did Real Madrid beat Atlético de Madrid in La Liga on Sunday?",
    "What did Olaf Scholz say about Die Linke in der Bundestag debate?",
    "Who is Xi Jinping (习近平) meeting this week?",
    "What happened to the cruiser Moskva (Москва)?",
    "Is El Niño making this winter warmer?",
    "What is the latest on the coup d'état in Niger?",
    "Who won the Tour de France in 2023?",
]


@pytest.mark.parametrize("language", sorted(FOREIGN))
def test_questions_in_other_languages_are_recognised(language: str) -> None:
    found = foreign_language(FOREIGN[language])
    assert found is not None and found.startswith(language)
    note = not_english_note(FOREIGN[language])
    assert note is not None and "English" in note and language in note


@pytest.mark.parametrize("question", ENGLISH)
def test_english_questions_with_foreign_names_are_not_flagged(question: str) -> None:
    assert foreign_language(question) is None and not_english_note(question) is None


def test_the_abstention_says_the_archive_is_english(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")
    index = str(tmp_path / "idx")
    seed = REPO / "corpus" / "korea-us-vs-japan-us-alliance.txt"
    assert main(["--index", index, "ingest", str(seed), "--no-progress"]) == 0
    capsys.readouterr()
    for language in ("French", "Russian"):
        assert main(["--index", index, "ask", FOREIGN[language], "--json"]) == 0
        res = json.loads(capsys.readouterr().out)
        assert res["abstained"], res["answer"]
        assert res["answer"].startswith("The archive has no article that answers this.")
        assert "English" in res["answer"] and language in res["answer"]
    assert main(["--index", index, "ask", "Who won the 1998 Cricket World Cup?", "--json"]) == 0
    english = json.loads(capsys.readouterr().out)
    assert english["abstained"] and english["answer"] == (
        "The archive has no article that answers this.")
    # The HTTP API (and so the chat page, which shows its answer) says the same.
    from fastapi.testclient import TestClient

    from newsqa.api.factory import create_app
    from tests.support import open_service

    svc = open_service(tmp_path / "idx")
    try:
        with TestClient(create_app(svc)) as client:
            got = client.post("/api/ask", json={"question": FOREIGN["German"]}).json()
    finally:
        svc.close()
    assert got["abstained"] and "German" in got["answer"] and "English" in got["answer"]
