"""Drop-in backends for agent frameworks, one optional module each.

- :mod:`convstore.integrations.openai_agents` — ``ConvstoreSession``, an
  ``agents.memory.Session`` (extra ``openai-agents``);
- :mod:`convstore.integrations.langgraph` — ``ConvstoreSaver``, a LangGraph
  ``BaseCheckpointSaver`` (extra ``langgraph``);
- :mod:`convstore.integrations.adk` — ``ConvstoreSessionService``, a Google
  ADK ``BaseSessionService`` (extra ``adk``).

Importing this package imports no framework; each module imports its own
framework when it is imported. Every adapter takes a path (it opens a
:class:`~convstore.LocalSessionService` there) or any
:class:`~convstore.service.ExtendedSessionService`, sync or async (coroutine
methods are awaited), so the same adapter runs on a local file or on the
team server. See ``docs/integrations.md``.
"""

from __future__ import annotations

__all__: list[str] = []
