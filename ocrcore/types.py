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
        return out


@dataclass(frozen=True)
class OCRResult:
    """All lines of one image, in reading order, with per-stage timings in seconds."""

    lines: tuple[Line, ...]
    width: int
    height: int
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def to_dict(self) -> dict:
        return {
            "text": [line.to_dict() for line in self.lines],
            "width": self.width,
            "height": self.height,
        }
