"""The engine's configuration: :class:`EngineConfig` (what an :class:`~ocrcore.OCREngine` is
built from, explicit, for Python callers) and :class:`EngineSettings` (the same knobs read from
``OCR_*`` environment variables and validated, for the CLI, the service, Lambda and the bench).

There is one parser of the environment: pydantic-settings, through :func:`load`. A malformed
value (``OCR_THREADS=two``, ``OCR_ENHANCE=atuo``) or a name one typo away from a setting
(``OCR_PROFLE``) is refused with a message naming the variable; nothing falls back silently.
Booleans accept ``1/0, true/false, yes/no, on/off`` everywhere.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import AliasChoices, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .decode import DEFAULT_MAX_PIXELS
from .detect import DetParams
from .models import PROFILES, parse_precision
from .preprocess import ENHANCE_MODES, EnhanceMode
from .recognize import RecParams


class ConfigError(ValueError):
    """The environment or the arguments describe an invalid configuration (message says which)."""


@dataclass(frozen=True)
class EngineConfig:
    """Everything fixed at load time. Per-call options are arguments of :meth:`OCREngine.ocr`.

    Raises :class:`ConfigError` for an unknown profile, precision or enhance mode, or a negative
    thread count."""

    profile: str = "small"
    precision: str = "auto"
    # Cores the engine computes on, shared by all concurrent calls (ocrcore.cores): a lone image
    # uses all of them, concurrent images split them. 0 = every core this process may use.
    threads: int = 0
    spin: bool = False  # let idle ONNX Runtime threads busy-wait (see runtime.make_session)
    # 0/180 classifier default, overridable per call. Off: measured on the eval sets it flips
    # more right-side-up words than it rescues, and changes nothing on full pages (docs/accuracy.md).
    use_cls: bool = False
    # Page orientation (0/90/180/270) and skew found from the detected boxes and undone before
    # reading; lines read unsure and upside down turned (ocrcore.orientation). Overridable per call.
    orient: bool = True
    enhance: EnhanceMode = "auto"
    min_confidence: float = 0.5  # lines below this are dropped (PP-OCR's text_score)
    # Issue #11: a second detection view with coloured ink suppressed on images with colour
    # (strokes, seals, highlights over text); the search for lone glyphs DB misses (一, -) and the
    # unrotated reading of tall one-glyph crops (1, 7).
    colour_view: bool = True
    lone_glyphs: bool = True
    # Clean pages (documents, receipts, screenshots) whose short side is at least the detector's
    # ``min_side`` and that are detected whole (not tiled) go to the profile's document detector
    # where it has one (small: tiny's DB model, ~3x cheaper; OCREngine._detector_for,
    # docs/accuracy.md). Off: the main detector reads every image.
    doc_detector: bool = True
    max_pixels: int = DEFAULT_MAX_PIXELS
    model_dir: Path | None = None
    # Deployment defaults of the domain vocabulary (ocrcore.vocab, docs/vocabulary.md); a call's
    # own allowlist/blocklist/pattern/hotwords replace them. Empty = no constraint.
    allowlist: str = ""
    blocklist: str = ""
    pattern: str = ""
    hotwords_file: Path | None = None
    beam_width: int = 8
    hotword_boost: float = 1.0
    det: DetParams = field(default_factory=DetParams)
    rec: RecParams = field(default_factory=RecParams)

    def __post_init__(self) -> None:
        if self.profile not in PROFILES:
            raise ConfigError(f"unknown profile {self.profile!r}; choose one of {', '.join(PROFILES)}")
        if self.enhance not in ENHANCE_MODES:
            raise ConfigError(f"unknown enhance mode {self.enhance!r}; choose one of {', '.join(ENHANCE_MODES)}")
        try:
            parse_precision(self.precision)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.threads < 0:
            raise ConfigError("threads must be >= 0 (0 = all cores)")
        if self.max_pixels <= 0:
            raise ConfigError("max_pixels must be > 0")
        if not 1 <= self.beam_width <= 64:
            raise ConfigError("beam_width must be in 1..64")
        if not 0 < self.hotword_boost <= 10:
            raise ConfigError("hotword_boost must be in (0, 10]")

    @classmethod
    def from_env(cls, **overrides: Any) -> EngineConfig:
        """:class:`EngineSettings` from the environment, then keyword overrides (which win)."""
        return load(EngineSettings).engine_config(**overrides)


def env(*names: str) -> AliasChoices:
    """The environment variable(s) a setting is read from, first match wins."""
    return AliasChoices(*names)


class EngineSettings(BaseSettings):
    """The engine's ``OCR_*`` environment variables (see :class:`EngineConfig` for their effect)."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="forbid", frozen=True, populate_by_name=True)

    profile: Literal["small", "tiny"] = Field(
        "small", validation_alias=env("OCR_PROFILE"),
        description="model profile: `small` (accurate) or `tiny` (fast, small memory; on 2 AVX2-only cores under 2 "
                    "concurrent users tiny keeps p95 under 1 s and small does not: docs/performance.md)")
    precision: str = Field(
        "auto", validation_alias=env("OCR_PRECISION"),
        description="`auto` (per model, the fastest variant on this CPU among those that pass the accuracy rule; "
                    "measured once per host and cached, docs/models.md), `int8`, `fp32`, or per model `det=int8,rec=fp32`")
    threads: int = Field(
        0, ge=0, validation_alias=env("OCR_THREADS"),
        description="cores the engine computes on (0 = all this process may use), shared by concurrent images: "
                    "a lone image uses all of them, never more threads than this run at once")
    spin: bool = Field(
        False, validation_alias=env("OCR_SPIN"),
        description="let idle ONNX Runtime threads busy-wait (off: measured faster with several sessions)")
    use_cls: bool = Field(
        False, validation_alias=env("OCR_CLS"),
        description="default of the `cls` parameter (0/180 line classifier; off by default, see docs/accuracy.md)")
    orient: bool = Field(
        True, validation_alias=env("OCR_ORIENT"),
        description="default of the `orient` parameter: find the page's orientation (0/90/180/270) and skew "
                    "and read it upright, turning unsure upside-down lines (ocrcore/orientation.py)")
    enhance: Literal["off", "auto", "binarize"] = Field(
        "auto", validation_alias=env("OCR_ENHANCE"),
        description="`off`, `auto` (contrast stretch of low-contrast images) or `binarize`")
    max_pixels: int = Field(
        DEFAULT_MAX_PIXELS, gt=0, validation_alias=env("OCR_MAX_PIXELS"),
        description="largest image in pixels, checked before decoding (413 beyond)")
    model_dir: Path | None = Field(
        None, validation_alias=env("OCR_MODEL_DIR"),
        description="built models (default: `models/build` of the repository)")

    allowlist: str = Field(
        "", validation_alias=env("OCR_ALLOWLIST"), json_schema_extra={"shown_default": "unset"},
        description="default allowlist: only these characters may be read (e.g. `0123456789.-`); a request's own replaces it "
                    "(docs/vocabulary.md)")
    blocklist: str = Field(
        "", validation_alias=env("OCR_BLOCKLIST"), json_schema_extra={"shown_default": "unset"},
        description="default blocklist: characters never read")
    pattern: str = Field(
        "", validation_alias=env("OCR_PATTERN"), json_schema_extra={"shown_default": "unset"},
        description="default pattern (a regular expression every line must match; unmatched lines are read freely and flagged)")
    hotwords_file: Path | None = Field(
        None, validation_alias=env("OCR_HOTWORDS_FILE"),
        description="default hot words: a UTF-8 file, one `term` or `term:weight` per line, boosted by the beam search")
    beam_width: int = Field(
        8, ge=1, le=64, validation_alias=env("OCR_BEAM_WIDTH"),
        description="beam of the constrained CTC search (patterns, hot words)")
    hotword_boost: float = Field(
        1.0, gt=0, le=10, validation_alias=env("OCR_HOTWORD_BOOST"),
        description="log-probability bonus per matched hot-word character, times the term's weight")

    @field_validator("precision")
    @classmethod
    def _precision(cls, value: str) -> str:
        parse_precision(value)  # ValueError -> a validation error naming OCR_PRECISION
        return value

    @field_validator("model_dir", "hotwords_file", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return None if value == "" else value

    def engine_config(self, **overrides: Any) -> EngineConfig:
        """The :class:`EngineConfig` these settings describe; keyword overrides win."""
        values: dict[str, Any] = {name: getattr(self, name) for name in EngineSettings.model_fields}
        values.update(overrides)
        return EngineConfig(**values)


S = TypeVar("S", bound=BaseSettings)


def env_names(model: type[BaseSettings]) -> dict[str, str]:
    """Environment variable -> field name, for every setting of ``model``."""
    out: dict[str, str] = {}
    for name, info in model.model_fields.items():
        alias = info.validation_alias
        for choice in (alias.choices if isinstance(alias, AliasChoices) else [alias or name]):
            out[str(choice).upper()] = name
    return out


def check_names(model: type[BaseSettings], environ: Mapping[str, str]) -> None:
    """Refuse ``OCR_*`` variables one typo away from a setting (``OCR_PROFLE``): they would
    otherwise be ignored and the default used. Other ``OCR_*`` names (tools') pass."""
    known = env_names(model)
    for var in environ:
        upper = var.upper()
        if upper.startswith("OCR_") and upper not in known:
            close = difflib.get_close_matches(upper, list(known), n=1, cutoff=0.85)
            if close:
                raise ConfigError(f"{var} is not a setting; did you mean {close[0]}?")


def load(model: type[S], environ: Mapping[str, str] | None = None, **overrides: Any) -> S:
    """Read ``model`` from the environment (``environ``, default ``os.environ``) plus keyword
    overrides; raises :class:`ConfigError` whose message names each bad variable and why."""
    environ = os.environ if environ is None else environ
    check_names(model, environ)
    names: dict[str, str] = {}
    for var, name in env_names(model).items():
        names.setdefault(name, var)
    known = {var: value for var, value in environ.items() if var.upper() in env_names(model)}
    try:
        if environ is os.environ:
            return model(**overrides)
        return _from_mapping(model, known, overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = str(err["loc"][0]) if err.get("loc") else ""
            var = names.get(loc, loc.upper())
            given = err.get("input")
            problems.append(f"{var}={given!r}: {err['msg']}" if loc in names or loc.upper() in env_names(model)
                            else f"{loc}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None


def _from_mapping(model: type[S], environ: Mapping[str, str], overrides: dict[str, Any]) -> S:
    """Settings from an explicit mapping instead of ``os.environ`` (tests, other processes):
    validated by the same model, without reading the process environment."""
    upper = {var.upper(): value for var, value in environ.items()}
    data: dict[str, Any] = {}
    for var, name in env_names(model).items():  # in declaration order: the first alias set wins
        if var in upper and name not in data:
            data[name] = upper[var]
    data.update(overrides)
    return model.model_validate(data)
