"""Reading the image out of a request, in each of the forms ``POST /api/ocr`` accepts:
multipart field ``image``, JSON ``{"image_base64"}``, JSON ``{"s3_key"}`` (presigned upload),
or the raw bytes as the body (``image/*``, ``application/pdf``, ``application/octet-stream``).
A PDF or TIFF document comes the same ways (ocrservice.documents tells them apart).
"""

from __future__ import annotations

import base64
import binascii
import json
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartParser

from .auth import caller_identity
from .errors import ApiError
from .schemas import UploadRequest
from .uploads import Uploads


@dataclass(frozen=True)
class ImageInput:
    data: bytes
    source: str  # "multipart" | "base64" | "s3" | "raw", for the log line
    # Text options sent beside the image (multipart text fields, JSON keys), e.g. the vocabulary's.
    fields: dict[str, str] = field(default_factory=dict)


# Options a client may send in the body as well as in the query string (ocrcore.vocab).
BODY_OPTIONS = ("allowlist", "blocklist", "pattern", "hotwords")


class _OptionsParser(MultiPartParser):
    """starlette's multipart parser, noting which of :data:`BODY_OPTIONS` are not text in the
    part's charset (UTF-8 unless the request names another): starlette decodes those as
    Latin-1 without a word, which would turn an allowlist or hot words into other characters."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.not_text: list[str] = []

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is None and part.field_name in BODY_OPTIONS:
            try:
                bytes(part.data).decode(self._charset or "utf-8")
            except (UnicodeDecodeError, LookupError):
                self.not_text.append(part.field_name)
        super().on_part_end()


def _not_utf8(name: str, where: str) -> ApiError:
    return ApiError(422, "invalid_constraint", f"{name} ({where}) is not valid UTF-8 text")


def check_query_options(query_string: bytes) -> None:
    """422 ``invalid_constraint`` if a :data:`BODY_OPTIONS` value of the raw query string is not
    UTF-8 once percent-decoded (starlette would put U+FFFD in its place without a word)."""
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, encoding="latin-1"):
        if name in BODY_OPTIONS:
            try:
                value.encode("latin-1").decode("utf-8")
            except UnicodeDecodeError:
                raise _not_utf8(name, "query") from None


def decode_base64(value: Any) -> bytes:
    """``image_base64``'s bytes (a ``data:`` URL prefix and whitespace are accepted)."""
    if not isinstance(value, str) or not value.strip():
        raise ApiError(422, "missing_field", "image_base64 must be a non-empty base64 string")
    s = value.strip()
    if s.startswith("data:"):
        _, _, s = s.partition(",")
    try:
        return base64.b64decode("".join(s.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "invalid_base64", "image_base64 is not valid base64") from None



def parse_json(raw: bytes) -> Any:
    """``json.loads`` with every way a hostile body can fail it as a 400 ``invalid_json``."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, nested too deep, an integer too long
        raise ApiError(400, "invalid_json", "the body is not valid JSON") from None


async def read_image(request: Request) -> ImageInput:
    """FastAPI dependency: the image bytes from whichever body form the client used.

    Raises :class:`~ocrservice.errors.ApiError` (400 malformed body, 415 unaccepted Content-Type,
    422 missing field, 404/413/502 for an S3 key) before any OCR work is admitted."""
    uploads: Uploads = request.app.state.uploads
    check_query_options(request.scope.get("query_string", b""))
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        try:
            async with aclosing(request.stream()) as stream:
                parser = _OptionsParser(request.headers, stream, max_files=4, max_fields=16)
                form = await parser.parse()
        except ApiError:
            raise
        except Exception as exc:
            detail = getattr(exc, "message", None) or exc
            raise ApiError(400, "invalid_multipart", f"could not parse the multipart body: {detail}") from None
        try:
            if parser.not_text:
                raise _not_utf8(parser.not_text[0], "multipart field")
            part = form.get("image")
            if part is None:
                got = ", ".join(repr(k) for k in form) or "none"
                raise ApiError(
                    422, "missing_field",
                    f"multipart field 'image' is required (received fields: {got}); e.g. curl -F image=@photo.jpg",
                )
            if not isinstance(part, UploadFile):
                raise ApiError(
                    422, "missing_field",
                    "field 'image' must be a file part, not a text field; e.g. curl -F image=@photo.jpg",
                )
            options = {k: v for k in BODY_OPTIONS if isinstance(v := form.get(k), str)}
            return ImageInput(await part.read(), "multipart", options)
        finally:
            await form.close()
    if ctype in ("application/json", "text/json") or ctype.endswith("+json"):
        payload = parse_json(await request.body())
        if not isinstance(payload, dict):
            raise ApiError(422, "missing_field", 'expected a JSON object: {"image_base64": "..."} or {"s3_key": "..."}')
        options = {k: v for k in BODY_OPTIONS if isinstance(v := payload.get(k), str)}
        for k in BODY_OPTIONS:
            if payload.get(k) is not None and k not in options:
                raise ApiError(422, "invalid_constraint", f"{k} must be a string (hot words: comma- or newline-separated, "
                                                          f"each optionally term:weight), not {type(payload[k]).__name__}")
        if payload.get("image_base64") is not None:
            return ImageInput(decode_base64(payload["image_base64"]), "base64", options)
        if payload.get("s3_key") is not None:
            key = uploads.check_key(payload["s3_key"], caller_identity(request.scope))
            return ImageInput(await run_in_threadpool(uploads.fetch, key), "s3", options)
        got = ", ".join(repr(k) for k in payload) or "none"
        raise ApiError(422, "missing_field", f"JSON body needs 'image_base64' or 's3_key' (received keys: {got})")
    if ctype.startswith("image/") or ctype in ("application/octet-stream", "application/pdf"):
        return ImageInput(await request.body(), "raw")
    if not ctype:
        raise ApiError(
            415, "unsupported_media_type",
            "missing Content-Type: send multipart/form-data with field 'image', JSON {\"image_base64\"}, "
            "or an image/* or application/pdf body",
        )
    raise ApiError(
        415, "unsupported_media_type",
        f"request Content-Type {ctype!r} is not accepted: send multipart/form-data, application/json, image/* "
        "or application/pdf",
    )


async def read_upload_request(request: Request) -> UploadRequest:
    """FastAPI dependency: the optional JSON body of ``POST /api/uploads``. Read here rather than
    by FastAPI's body parameter, which turns every failure, a body over the size cap included,
    into a 400 "error parsing the body"; this keeps 413 for too large and 400/422 for the rest."""
    raw = await request.body()
    if not raw.strip():
        return UploadRequest(content_type=None, filename=None, size=None)
    payload = parse_json(raw)
    try:
        return UploadRequest.model_validate(payload)
    except ValidationError as exc:
        detail = "; ".join(f"{'.'.join(str(x) for x in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())
        raise ApiError(422, "invalid_parameter", detail) from None
