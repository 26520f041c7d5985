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

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "confidence": round(float(self.confidence), 4),
            "box": [[int(x), int(y)] for x, y in self.box],
        }


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
            "orientation": self.orientation,
            "skew": self.skew,
        }
