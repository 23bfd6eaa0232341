"""The API's routes, one module per feature, each with its own :class:`~fastapi.APIRouter`:
:mod:`.questions` (ask, stream, search), :mod:`.articles` (browse), :mod:`.operations` (add and
delete articles, health, metrics), :mod:`.web` (the chat page), :mod:`.openai` (the
OpenAI-compatible ``/v1``) and :mod:`.feeds` (the followed feeds);
:func:`newsqa.api.factory.create_app` includes them all, in that order."""
