"""User-facing errors: what is wrong, where, and what to do about it."""

from __future__ import annotations


class HeliosError(Exception):
    """A mistake in the user's input or tree, reported without a traceback.

    ``message`` says what is wrong and where (file, key, step); ``hint`` says what to do.
    """

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message
