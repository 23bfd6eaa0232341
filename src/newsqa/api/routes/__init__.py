"""The API's routes, one module per feature, each with its own :class:`~fastapi.APIRouter`:
:mod:`.questions` (ask, stream, search), :mod:`.articles` (browse), :mod:`.operations` (add and
delete articles, health, metrics), :mod:`.web` (the chat page), :mod:`.openai` (the
OpenAI-compatible ``/v1``), :mod:`.feeds` (the followed feeds) and :mod:`.watches` (watched
questions);
:func:`newsqa.api.factory.create_app` includes them all, in that order."""
