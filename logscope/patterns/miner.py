"""The pattern miner: each message gets the id of its pattern (a template with `<*>` for the
variable parts), online, in the order messages arrive, deterministically.

How a message finds its pattern (docs/patterns.md):

1. It is masked (masking.py) and split into tokens at whitespace: its *shape*.
2. Patterns whose shapes have the same *skeleton* (the text left when every `<*>` is taken out)
   are one pattern, so optional or repeated variable parts (`0 bytes sent` and `1,209 bytes
   (1.18 KB) sent`) do not split it.
3. Otherwise it joins the first pattern (by id) with a generalized shape of as many tokens that
   it fits (a `<*>` token there stands for any token here).
4. Otherwise it starts a pattern. When `SIBLINGS` patterns with as many tokens differ only in one
   token (`Invalid user admin`, `Invalid user oracle`, ...), that token is a variable: they become
   one pattern (the oldest id) with `<*>` there. Words that differ in fewer patterns are kept
   apart (`VM Started` and `VM Paused` are different events).

The state is the list of patterns, each with its shapes and the pattern it was merged into:
`Miner.load` rebuilds the same miner from it, so ids never change across restarts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from logscope.patterns.masking import VARIABLE, mask

# Distinct words in one token position, all else equal, that make that position a variable.
SIBLINGS = 4
# Words a shape must keep besides the new variable for that to be made (`normal`, `warning` and
# `boot (command <*>)`, `wait (command <*>)` stay apart).
MIN_CONTEXT = 2
# Masked messages remembered with their pattern (a lookup cache; dropped whole when full).
CACHE_ENTRIES = 200_000

# A token position made a variable by mining (not by masking): it matches any token that starts
# with what comes before it (`user=<?>` matches `user=root`). Shown as `<*>`.
WILDCARD = "<?>"
_KEY_END = frozenset("=:([{")

Shape = tuple[str, ...]

_PUNCTUATION = re.compile(r"[^\w]+")
_SKELETON_DROP = re.compile(r"\((?:<[*?]>)?\)|\[<[*?]>\]|\{<[*?]>\}|\"<[*?]>\"|'<[*?]>'|<[*?]>")


def skeleton(shape: Shape) -> str:
    """The shape's text with every variable taken out, with the brackets or quotes around one, and
    what is left of a token that was only variables and punctuation (`<*>,<*>`)."""
    words = _SKELETON_DROP.sub(" ", " ".join(shape)).split()
    return " ".join(word for word in words if not _PUNCTUATION.fullmatch(word))


def loose(shape: Shape) -> Shape:
    """The shape with every token that holds a variable made just a variable: `LOCAL(<*>),` and
    `<*>,` are the same variable."""
    return tuple(VARIABLE if VARIABLE in token or WILDCARD in token else token for token in shape)


def template_text(shape: Shape) -> str:
    return " ".join(shape).replace(WILDCARD, VARIABLE)


def _fits(want: str, got: str) -> bool:
    """Whether token `got` fits the shape's token `want`."""
    if want == got:
        return True
    return want.endswith(WILDCARD) and got.startswith(want[: -len(WILDCARD)])


def _wildcard_token(tokens: Iterable[str]) -> str:
    """The tokens' common start up to a key's end (`user=` of `user=root` and `user=guest`) and a
    wildcard."""
    prefix = os.path.commonprefix(list(tokens))
    cut = max((index + 1 for index, char in enumerate(prefix) if char in _KEY_END), default=0)
    return prefix[:cut] + WILDCARD


def _variables(shape: Shape) -> int:
    return sum(1 for token in shape if VARIABLE in token or token.endswith(WILDCARD))


@dataclass
class Pattern:
    """One pattern: its id, the shapes it was seen with, and where it was merged (if it was)."""

    id: int
    shapes: list[Shape] = field(default_factory=list)
    merged_into: int | None = None

    @property
    def template(self) -> str:
        """The most general shape (most `<*>`, first seen on a tie) as text."""
        best = max(self.shapes, key=lambda shape: (_variables(shape), -self.shapes.index(shape)))
        return template_text(best)


class Miner:
    """Assigns pattern ids to messages; `changed` lists the patterns touched since last asked."""

    def __init__(self, siblings: int = SIBLINGS) -> None:
        self.siblings = siblings
        self.patterns: dict[int, Pattern] = {}
        self.next_id = 1
        self._by_skeleton: dict[str, int] = {}
        self._by_loose: dict[Shape, int] = {}
        self._general: dict[int, list[tuple[int, Shape]]] = {}  # token count → shapes with `<*>`
        self._sibling_keys: dict[tuple[int, Shape], list[int]] = {}
        self._cache: dict[str, int] = {}
        self.changed: set[int] = set()

    # --- state ----------------------------------------------------------------------------

    @classmethod
    def load(cls, saved: Iterable[tuple[int, list[str], int | None]], siblings: int = SIBLINGS) -> Miner:
        """A miner in the state `saved` describes: (id, shapes as text, merged_into) per pattern."""
        miner = cls(siblings)
        for pattern_id, shapes, merged_into in sorted(saved, key=lambda item: item[0]):
            pattern = Pattern(pattern_id, [tuple(text.split(" ")) for text in shapes], merged_into)
            miner.patterns[pattern_id] = pattern
            miner.next_id = max(miner.next_id, pattern_id + 1)
        for pattern in miner.patterns.values():
            for shape in pattern.shapes:
                miner._index(pattern.id, shape)
        miner.changed.clear()
        return miner

    def root(self, pattern_id: int) -> int:
        """The pattern `pattern_id` is part of now (itself unless it was merged)."""
        pattern = self.patterns[pattern_id]
        while pattern.merged_into is not None:
            pattern = self.patterns[pattern.merged_into]
        return pattern.id

    # --- mining ---------------------------------------------------------------------------

    def add(self, message: str) -> int:
        """The pattern id for `message` (the id it has now; a later merge may fold it into another)."""
        return self.add_masked(mask(message))

    def add_masked(self, masked: str) -> int:
        cached = self._cache.get(masked)
        if cached is not None:
            return self.root(cached)
        shape = tuple(masked.split())
        pattern_id = self._match(shape)
        if pattern_id is None:
            pattern_id = self._create(shape)
        if len(self._cache) >= CACHE_ENTRIES:
            self._cache.clear()
        self._cache[masked] = pattern_id
        return self.root(pattern_id)

    def _match(self, shape: Shape) -> int | None:
        found = self._by_skeleton.get(skeleton(shape))
        if found is None:
            found = self._by_loose.get(loose(shape))
        if found is not None:
            return self.root(found)
        for pattern_id, general in self._general.get(len(shape), ()):
            if all(_fits(want, got) for want, got in zip(general, shape, strict=True)):
                return self.root(pattern_id)
        return None

    def _create(self, shape: Shape) -> int:
        pattern = Pattern(self.next_id, [shape])
        self.next_id += 1
        self.patterns[pattern.id] = pattern
        self.changed.add(pattern.id)
        self._index(pattern.id, shape)
        self._generalize(shape)
        return pattern.id

    def _index(self, pattern_id: int, shape: Shape) -> None:
        self._by_skeleton.setdefault(skeleton(shape), pattern_id)
        self._by_loose.setdefault(loose(shape), pattern_id)
        if any(token.endswith(WILDCARD) for token in shape):
            self._general.setdefault(len(shape), []).append((pattern_id, shape))
        for position, token in enumerate(shape):
            if token != VARIABLE and not token.endswith(WILDCARD):
                key = (position, shape[:position] + (WILDCARD,) + shape[position + 1 :])
                self._sibling_keys.setdefault(key, []).append(pattern_id)

    def _generalize(self, shape: Shape) -> None:
        """Make a token position a variable once enough patterns differ only there."""
        if len(shape) - _variables(shape) <= MIN_CONTEXT:
            return
        for position, token in enumerate(shape):
            if token == VARIABLE or token.endswith(WILDCARD):
                continue
            key = shape[:position] + (WILDCARD,) + shape[position + 1 :]
            members = self._sibling_keys.get((position, key), [])
            roots = sorted({self.root(member) for member in members})
            if len(roots) >= self.siblings:
                values = [self.patterns[member].shapes[0][position] for member in members]
                general = shape[:position] + (_wildcard_token(values),) + shape[position + 1 :]
                target = self.patterns[roots[0]]
                target.shapes.append(general)
                self._index(target.id, general)
                for other in roots[1:]:
                    self._merge(other, target.id)
                self._merge_same_skeleton(target.id, general)
                return

    def _merge_same_skeleton(self, pattern_id: int, shape: Shape) -> None:
        """A new general shape whose skeleton another pattern has: the two are one pattern."""
        owner = self._by_skeleton.get(skeleton(shape))
        if owner is None:
            return
        owner_root, root = self.root(owner), self.root(pattern_id)
        if owner_root != root:
            keep, fold = min(owner_root, root), max(owner_root, root)
            self._merge(fold, keep)

    def _merge(self, pattern_id: int, into: int) -> None:
        pattern = self.patterns[pattern_id]
        pattern.merged_into = into
        target = self.patterns[into]
        for shape in pattern.shapes:
            if shape not in target.shapes:
                target.shapes.append(shape)
        self.changed.update((pattern_id, into))
