"""The API's routes, one module per resource, each with its own :class:`~fastapi.APIRouter`:
:mod:`.questions` (ask, stream, search), :mod:`.articles` (browse), :mod:`.operations` (add and
delete articles, health, metrics) and :mod:`.web` (the chat page). The OpenAI-compatible routes
are :mod:`newsqa.api.openai_compat`, the feeds' :mod:`newsqa.api.feeds`;
:func:`newsqa.api.factory.create_app` includes them all, in that order."""
