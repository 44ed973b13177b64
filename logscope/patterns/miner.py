"""The pattern miner: each message gets the id of its pattern (a template with `<*>` for the
variable parts), online, in the order messages arrive, deterministically.

How a message finds its pattern (docs/patterns.md):

1. It is masked (masking.py) and split into tokens at whitespace: its *shape*.
2. It joins the pattern with the same *skeleton* (the text left when every variable, the brackets
   around one and bare punctuation are taken out), so optional or repeated variable parts
   (`0 bytes sent` and `1209 bytes (1.18 KB) sent`) do not split a pattern;
3. else, with three constant words or more, the pattern with the same *loose* shape (every token
   that holds a variable taken as the same variable: `LOCAL(<*>),` and `<*>,`);
4. else the oldest pattern with a generalized shape of as many tokens that it fits;
5. else it starts a pattern. When `SIBLINGS` patterns with as many tokens differ only in one word
   (`Invalid user admin`, `Invalid user oracle`, ...), that word is a variable: they become one
   pattern (the oldest id) with a wildcard there. Words that differ in fewer patterns are kept
   apart (`VM Started` and `VM Paused` are different events).

The state is the list of patterns, each with its shapes and the pattern it was merged into:
`Miner.load` rebuilds the same miner from it, so ids never change across restarts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from logscope.patterns.masking import VARIABLE, mask_column

# Distinct words in one token position, all else equal, that make that position a variable.
SIBLINGS = 4
# Words a shape must keep besides the new variable for that to be made (`normal`, `warning` and
# `boot (command <*>)`, `wait (command <*>)` stay apart).
MIN_CONTEXT = 2
# Masked messages remembered with their pattern (a lookup cache; dropped whole when full).
CACHE_ENTRIES = 50_000
# Patterns kept apart at most (bounded memory on text that is not log-like): beyond it, a message
# that fits no pattern goes to the catch-all pattern `<*>`.
MAX_PATTERNS = 10_000
# Token positions where a word may be found to be a variable (the first ones of a message).
WORD_POSITIONS = 32

# A token position made a variable by mining (not by masking): it matches any token that starts
# with what comes before it (`user=<?>` matches `user=root`). Shown as `<*>`.
WILDCARD = "<?>"
_KEY_END = frozenset("=:([{")

Shape = tuple[str, ...]
_CATCH_ALL: Shape = (VARIABLE,)

_STARS = re.compile(r"(?:<\*>)+")
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
    prefix = _common_start(list(tokens))
    cut = max((index + 1 for index, char in enumerate(prefix) if char in _KEY_END), default=0)
    return prefix[:cut] + WILDCARD


def _common_start(texts: list[str]) -> str:
    """The start all texts share (that of the first and last in sorted order)."""
    first, last = min(texts, default=""), max(texts, default="")
    for index, char in enumerate(first):
        if index >= len(last) or char != last[index]:
            return first[:index]
    return first


def _with(shape: Shape, position: int, token: str) -> Shape:
    """The shape with `token` at `position`."""
    return (*shape[:position], token, *shape[position + 1 :])


def _word_positions(shape: Shape) -> Iterable[tuple[int, str]]:
    """Where a word of the shape could turn out to be a variable (among its first tokens)."""
    for position, token in enumerate(shape[:WORD_POSITIONS]):
        if VARIABLE not in token and not token.endswith(WILDCARD):
            yield position, token


def _sibling_key(shape: Shape, position: int) -> int:
    """The shape with a wildcard at `position`, hashed."""
    return hash((position, *shape[:position], WILDCARD, *shape[position + 1 :]))


def _variables(shape: Shape) -> int:
    return sum(1 for token in shape if VARIABLE in token or token.endswith(WILDCARD))


def _constants(shape: Shape) -> int:
    return len(shape) - _variables(shape)


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

    def __init__(self, siblings: int = SIBLINGS, max_patterns: int = MAX_PATTERNS) -> None:
        self.siblings = siblings
        self.max_patterns = max_patterns
        self.patterns: dict[int, Pattern] = {}
        self.next_id = 1
        self._by_skeleton: dict[str, int] = {}
        self._by_loose: dict[Shape, int] = {}
        self._general: dict[int, list[tuple[int, Shape]]] = {}  # token count → shapes with `<*>`
        # (position, shape with a wildcard there) → (pattern, its token there) for each shape
        # (hashed: the index stays linear in the tokens of a shape)
        self._sibling_keys: dict[int, list[tuple[int, str]]] = {}
        self._members: dict[int, list[int]] = {}  # a pattern → the patterns merged into it
        self._cache: dict[str, int] = {}
        self.changed: set[int] = set()

    # --- state ----------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        saved: Iterable[tuple[int, list[str], int | None]],
        siblings: int = SIBLINGS,
        max_patterns: int = MAX_PATTERNS,
    ) -> Miner:
        """A miner in the state `saved` describes: (id, shapes as text, merged_into) per pattern."""
        miner = cls(siblings, max_patterns)
        for pattern_id, shapes, merged_into in sorted(saved, key=lambda item: item[0]):
            pattern = Pattern(pattern_id, [tuple(text.split(" ")) for text in shapes], merged_into)
            miner.patterns[pattern_id] = pattern
            miner.next_id = max(miner.next_id, pattern_id + 1)
            if merged_into is not None:
                miner._members.setdefault(merged_into, []).append(pattern_id)
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

    def assign(self, messages: pa.Array | pa.ChunkedArray | list[str]) -> list[int]:
        """The pattern id of each message, in order, as mined (`root` gives the pattern it is part
        of now: a later merge may fold one pattern into another)."""
        if isinstance(messages, list):
            messages = pa.array(messages, pa.string())
        masked = pc.dictionary_encode(pc.fill_null(mask_column(messages), ""))
        if isinstance(masked, pa.ChunkedArray):
            masked = masked.combine_chunks()
        # Distinct masked messages in order of first appearance: the same ids as one at a time.
        ids = [self.add_masked(text) for text in masked.dictionary.to_pylist()]
        return pc.take(pa.array(ids, pa.int64()), masked.indices).to_pylist()

    def add_masked(self, masked: str) -> int:
        """The pattern id for a masked message."""
        cached = self._cache.get(masked)
        if cached is not None:
            return cached
        shape = tuple(_STARS.sub(VARIABLE, masked).split())
        pattern_id = self._match(shape)
        if pattern_id is None and len(self.patterns) >= self.max_patterns:
            shape = _CATCH_ALL
            pattern_id = self._match(shape)
        if pattern_id is None:
            pattern_id = self._create(shape)
        if len(self._cache) >= CACHE_ENTRIES:
            self._cache.clear()
        self._cache[masked] = pattern_id
        return pattern_id

    def _match(self, shape: Shape) -> int | None:
        found = self._by_skeleton.get(skeleton(shape))
        if found is None and _constants(shape) > MIN_CONTEXT:
            found = self._by_loose.get(loose(shape))
        if found is not None:
            return self.root(found)
        # The oldest of the patterns a general shape fits: the same answer whatever order they
        # were made in (a restarted miner indexes them by id).
        fitting = [
            self.root(pattern_id)
            for pattern_id, general in self._general.get(len(shape), ())
            if all(_fits(want, got) for want, got in zip(general, shape, strict=True))
        ]
        return min(fitting) if fitting else None

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
        if _constants(shape) > MIN_CONTEXT:
            self._by_loose.setdefault(loose(shape), pattern_id)
        if any(token.endswith(WILDCARD) for token in shape):
            self._general.setdefault(len(shape), []).append((pattern_id, shape))
        for position, token in _word_positions(shape):
            self._sibling_keys.setdefault(_sibling_key(shape, position), []).append((pattern_id, token))

    def _generalize(self, shape: Shape) -> None:
        """Make a token position a variable once enough patterns differ only there."""
        if len(shape) - _variables(shape) <= MIN_CONTEXT:
            return
        for position, _ in _word_positions(shape):
            members = self._sibling_keys.get(_sibling_key(shape, position), [])
            roots = sorted({self.root(member) for member, _ in members})
            if len(roots) >= self.siblings:
                general = _with(shape, position, _wildcard_token(value for _, value in members))
                target = self.patterns[roots[0]]
                for other in roots[1:]:
                    self._merge(other, target.id)
                self._merge_same_skeleton(target.id, general)
                target = self.patterns[self.root(target.id)]
                target.shapes.append(general)
                self._index(target.id, general)
                return

    def _merge_same_skeleton(self, pattern_id: int, shape: Shape) -> None:
        """A new general shape whose skeleton (or loose shape) another pattern has: the two are one
        pattern (so each index entry leads to one pattern, however it was built)."""
        owners = [self._by_skeleton.get(skeleton(shape))]
        if _constants(shape) > MIN_CONTEXT:
            owners.append(self._by_loose.get(loose(shape)))
        for owner in owners:
            if owner is None:
                continue
            owner_root, root = self.root(owner), self.root(pattern_id)
            if owner_root != root:
                self._merge(max(owner_root, root), min(owner_root, root))

    def _merge(self, pattern_id: int, into: int) -> None:
        """Fold root `pattern_id` (and what was merged into it) into root `into`."""
        folded = [pattern_id, *self._members.pop(pattern_id, [])]
        for member in folded:
            self.patterns[member].merged_into = into
        self._members.setdefault(into, []).extend(folded)
        target = self.patterns[into]
        for shape in self.patterns[pattern_id].shapes:
            if shape not in target.shapes:
                target.shapes.append(shape)
        self.changed.update(folded)
        self.changed.add(into)
