"""The one exception type that crosses stage boundaries and becomes a CLI error line, and the
wording of errors every layer reports alike."""


class LogscopeError(Exception):
    """A user-facing error: one line of text and the exit status it maps to."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def not_utf8(exc: UnicodeDecodeError) -> str:
    """A one-line message for a file that is not UTF-8: the first bad byte and its line."""
    data = exc.object if isinstance(exc.object, bytes) else b""
    line = data[: exc.start].count(b"\n") + 1
    return f"not valid UTF-8: byte 0x{data[exc.start]:02x} on line {line} (TOML files are UTF-8)"
