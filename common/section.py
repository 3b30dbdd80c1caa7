"""The base of every settings section, apart from the machinery that loads settings.

Programs that only parse logs (``processor.parsing`` as a library, the parsing benchmark) need
the parsing section but not the loader: importing this module instead of ``common.settings``
leaves out pydantic-settings and what it imports (asyncio...), about a quarter of their
start-up.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Section"]


class Section(BaseModel):
    """Base of every settings section: frozen, and unknown keys are errors (typos)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
