"""Result types: frozen, JSON-ready, shared by the CLI, the HTTP API and the Lambda handlers."""

from __future__ import annotations

from dataclasses import dataclass, field

Point = tuple[int, int]


@dataclass(frozen=True)
class Line:
    """One recognised text line. ``box`` is four points clockwise from top-left, image pixels."""

    text: str
    confidence: float
    box: tuple[Point, Point, Point, Point]
    # Which constraint shaped the line (ocrcore.vocab: "allowlist", "pattern", "hotwords", ...
    # joined by "+"; None = none did), and whether a requested pattern could not be matched.
    constraint: str | None = None
    pattern_fallback: bool = False
    block: int | None = None  # id of the Block (OCRResult.blocks) the line belongs to
    words: tuple[Word, ...] | None = None  # on request (ocr(..., words=True)); None otherwise

    def to_dict(self) -> dict:
        out = {
            "text": self.text,
            "confidence": round(float(self.confidence), 4),
            "box": [[int(x), int(y)] for x, y in self.box],
        }
        if self.constraint:
            out["constraint"] = self.constraint
        if self.pattern_fallback:
            out["pattern_fallback"] = True
        if self.block is not None:
            out["block"] = self.block
        if self.words is not None:
            out["words"] = [w.to_dict() for w in self.words]
        return out


@dataclass(frozen=True)
class Word:
    """A word (run of Latin letters, digits and punctuation) or one CJK character of a line, with
    the mean probability of its characters and its box (four points clockwise from the word's
    top-left, image pixels), from the recogniser's CTC time steps (ocrcore.words)."""

    text: str
    confidence: float
    box: tuple[Point, Point, Point, Point]

    def to_dict(self) -> dict:
        return {"text": self.text, "confidence": round(float(self.confidence), 4),
                "box": [[int(x), int(y)] for x, y in self.box]}


@dataclass(frozen=True)
class Block:
    """Lines read together: a paragraph, a column's piece, the rows of a tight table
    (ocrcore.layout). ``box``: axis-aligned, four points clockwise from top-left, image pixels;
    ``lines``: indices into :attr:`OCRResult.lines`."""

    id: int
    box: tuple[Point, Point, Point, Point]
    lines: tuple[int, ...]

    def to_dict(self) -> dict:
        return {"id": self.id, "box": [[int(x), int(y)] for x, y in self.box], "lines": list(self.lines)}


@dataclass(frozen=True)
class OCRResult:
    """All lines of one image, in reading order, with per-stage timings in seconds.

    ``orientation``: how the page was turned as received, clockwise degrees (0, 90, 180, 270;
    90 = the top of the text faces right), undone before reading; ``skew``: its further small
    clockwise rotation in degrees (ocrcore.orientation). Boxes are in the image as received.
    """

    lines: tuple[Line, ...]
    width: int
    height: int
    timings: dict[str, float] = field(default_factory=dict)
    blocks: tuple[Block, ...] = ()  # in reading order (ocrcore.layout)
    orientation: int = 0
    skew: float = 0.0

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict:
        return {
            "text": [line.to_dict() for line in self.lines],
            "width": self.width,
            "height": self.height,
            "blocks": [b.to_dict() for b in self.blocks],
            "orientation": self.orientation,
            "skew": self.skew,
        }
