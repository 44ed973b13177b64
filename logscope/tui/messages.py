"""Messages the pipeline's threads post to the app (the only way they reach it)."""

from __future__ import annotations

from textual.message import Message


class RecordsCommitted(Message):
    """The pipeline committed records up to `last_id`. Later notices replace waiting ones."""

    def __init__(self, last_id: int) -> None:
        super().__init__()
        self.last_id = last_id

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RecordsCommitted)


class SourceError(Message):
    """A source or the pipeline reported a problem (posted from any thread)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class FeedReady(Message):
    """The pipeline is assembled (after the first screen): its LiveFeed to follow."""

    def __init__(self, feed: object) -> None:
        super().__init__()
        self.feed = feed


class StartFailed(Message):
    """Assembling the pipeline failed: the app ends (the error is raised in the app's thread)."""
