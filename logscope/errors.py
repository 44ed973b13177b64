"""The one exception type that crosses stage boundaries and becomes a CLI error line."""


class LogscopeError(Exception):
    """A user-facing error: one line of text and the exit status it maps to."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
