"""Optional extras: a missing one is an import error that says what to install.

>>> try:
...     import no_such_module_for_convstore
... except ModuleNotFoundError as exc:
...     error = missing_extra("convstore.postgres", "postgres", exc)
>>> isinstance(error, ImportError), isinstance(error, StoreError)
(True, True)
>>> print(error)
convstore.postgres needs the 'postgres' extra: pip install 'convstore[postgres]' (No module named 'no_such_module_for_convstore')
"""  # noqa: E501

from __future__ import annotations

from .errors import StoreError

__all__ = ["MissingExtra", "missing_extra"]


class MissingExtra(StoreError, ModuleNotFoundError):
    """An optional extra is not installed; the message gives the ``pip install`` to run.

    Both a :class:`~convstore.StoreError` and a :class:`ModuleNotFoundError`,
    so ``except ImportError`` around an optional import keeps working.
    """


def missing_extra(module: str, extra: str, exc: ModuleNotFoundError) -> MissingExtra:
    """The error for importing ``module`` without the ``extra`` it needs."""
    error = MissingExtra(
        f"{module} needs the {extra!r} extra: pip install 'convstore[{extra}]' ({exc})"
    )
    error.name = exc.name
    return error
