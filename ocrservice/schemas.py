"""The HTTP API's request and response shapes (pydantic): routes return these models, so FastAPI
validates every answer against the published contract and the OpenAPI document lists them.

The contract: ``POST /api/ocr`` -> ``{"success": true, "text": [{"text", "confidence", "box"}],
"processing_time"}``; fields are added, never removed or renamed (docs/api.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class WordOut(BaseModel):
    text: str = Field(examples=["Settings"])
    confidence: float = Field(examples=[0.991], description="0..1, mean of its character probabilities")
    box: list[list[int]] = Field(examples=[[[99, 42], [209, 42], [209, 72], [99, 72]]],
                                 description="four [x, y] points clockwise from the word's top-left, image pixels")


class LineOut(BaseModel):
    text: str = Field(examples=["北京市朝阳区建国路88号"])
    confidence: float = Field(examples=[0.987], description="0..1, mean of the character probabilities")
    box: list[list[int]] = Field(
        examples=[[[12, 30], [410, 30], [410, 62], [12, 62]]],
        description="four [x, y] points clockwise from top-left, in pixels of the (EXIF-rotated) image",
    )
    constraint: str | None = Field(None, examples=["allowlist"], description="the constraint(s) that shaped this line "
                                   "(allowlist, blocklist, pattern, hotwords, joined by +); null when none did")
    pattern_fallback: bool | None = Field(None, description="true: no reading matched the pattern, the line is read freely (null otherwise)")
    block: int | None = Field(None, examples=[0], description="id of the block (in `blocks`) the line belongs to")
    words: list[WordOut] | None = Field(
        None, description="with `words=true`: the line's words (Latin) and characters (Chinese), in order")


class BlockOut(BaseModel):
    id: int = Field(examples=[0])
    box: list[list[int]] = Field(examples=[[[12, 30], [410, 30], [410, 130], [12, 130]]],
                                 description="axis-aligned box around its lines, four [x, y] points, image pixels")
    lines: list[int] = Field(examples=[[0, 1, 2]], description="indices into `text`, in reading order")


class OCRResponse(BaseModel):
    success: bool = True
    text: list[LineOut]
    processing_time: float = Field(description="server seconds for this request")
    width: int
    height: int
    orientation: int = Field(0, examples=[90], description="how the page was turned as received, clockwise degrees "
                             "(0, 90, 180, 270; 90 = text top faces right), undone before reading")
    skew: float = Field(0.0, examples=[-3.5], description="the page's further small rotation, clockwise degrees")
    request_id: str
    cached: bool = Field(description="true when served from the result cache")
    timings: dict[str, float] = Field(description="engine seconds per stage (empty when cached)")
    blocks: list[BlockOut] = Field(default_factory=list, description="paragraphs, columns, table rows: in reading "
                                   "order, which is also the order of `text`")


class DocLineOut(LineOut):
    page: int = Field(examples=[1], description="1-based number of the page the line is on (its box is in that page's pixels)")


class PageOut(BaseModel):
    page: int = Field(examples=[1], description="1-based page number in the document")
    width: int = Field(description="pixels of the page image the boxes refer to (the page rendered at `dpi`)")
    height: int
    dpi: float | None = Field(description="render resolution of a PDF page; null for a TIFF frame")
    orientation: int = Field(description="degrees the page content is turned (0 for now)")
    source: str = Field(examples=["ocr"], description="`ocr`, or `text_layer` for a born-digital page read from its text")
    text: list[LineOut]
    preview: str | None = Field(
        None, exclude_if=lambda v: v is None,
        description="with `previews=true`: the page as a small JPEG `data:` URL (longest side 1024 px)")


class DocumentResponse(BaseModel):
    """The answer for a PDF or multi-page TIFF: the image contract plus ``pages``."""

    success: bool = True
    text: list[DocLineOut] = Field(description="every line of the returned pages, in page order")
    processing_time: float = Field(description="server seconds for this request")
    kind: str = Field(examples=["pdf"], description="`pdf`, `tiff` or `image`")
    page_count: int = Field(description="pages in the whole document (`pages` holds the selected ones)")
    pages: list[PageOut]
    request_id: str
    cached: bool = Field(description="true when served from the result cache")
    timings: dict[str, float] = Field(description="engine seconds per stage, summed over the pages (empty when cached)")


class ErrorDetail(BaseModel):
    code: str = Field(examples=["invalid_image"])
    message: str


class ErrorResponse(BaseModel):
    success: bool = False
    error: ErrorDetail
    request_id: str | None = None


class OCRJson(BaseModel):
    image_base64: str | None = Field(None, description="the image bytes, base64 (a data: URL prefix is accepted)")
    s3_key: str | None = Field(None, description="key returned by POST /api/uploads, after the PUT")


class UploadRequest(BaseModel):
    content_type: str | None = Field(None, examples=["image/jpeg"], description="signed into the URL if given")
    filename: str | None = None
    size: int | None = Field(None, ge=1, examples=[7340032],
                             description="bytes of the image (required): signed into the URL, S3 refuses any other length")


class UploadResponse(BaseModel):
    success: bool = True
    upload_url: str
    s3_key: str
    expires_in: int
    method: str = "PUT"
    headers: dict[str, str]
    max_bytes: int
    size: int | None = Field(None, description="the body must be exactly this many bytes (signed Content-Length)")


class HealthResponse(BaseModel):
    status: str = Field(description="ok | loading | error")
    ready: bool
    version: str
    profile: str
    precisions: dict[str, str]
    precision_reasons: dict[str, str]
    cpu: str
    isa: str
    cls_default: bool | None
    workers: int
    threads: int = Field(description="cores the engine computes on, shared by the workers")
    max_queue: int
    max_bytes: int
    max_pixels: int | None
    cache: dict[str, int]
    uploads: bool
    upload_max_bytes: int | None
    in_progress: int
    uptime: float = Field(description="seconds since the process started")
    error: str | None = None


def error_responses(descriptions: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` for a route: each status code with the ErrorResponse model and what
    it means there."""
    return {code: {"model": ErrorResponse, "description": desc} for code, desc in descriptions.items()}


ERROR_RESPONSES = error_responses({
    400: "not an image, corrupt or truncated, bad base64 or JSON, bad s3_key",
    401: "a token is required (OCR_API_TOKEN) and the request has none or a wrong one",
    403: "s3_key was uploaded by another caller",
    404: "s3_key: no such uploaded object (not uploaded, or expired)",
    413: "too many bytes or too many pixels; a PDF/TIFF with too many pages or an absurd page size",
    415: "unsupported image format or request content type",
    422: "missing or misnamed field, bad query parameter; an encrypted or malformed PDF, a bad `pages` range, bad vocabulary option (invalid_constraint)",
    429: "too many requests from this client (OCR_RATE_LIMIT); retry after the Retry-After seconds",
    501: "s3_key given but uploads are not configured on this server (no OCR_UPLOAD_BUCKET)",
    502: "s3_key: the object store could not be read",
    503: "server saturated (retry after the Retry-After seconds) or engine not loaded",
})

UPLOAD_RESPONSES = error_responses({
    400: "the body is not valid JSON",
    401: "a token is required (OCR_API_TOKEN) and the request has none or a wrong one",
    413: "the body is over the request size limit, or size is over the upload limit",
    415: "content_type is not an image type or application/pdf",
    422: "a field of the wrong type, or size missing",
    429: "too many requests from this client (OCR_RATE_LIMIT)",
    501: "uploads are not configured on this server (no OCR_UPLOAD_BUCKET)",
    502: "the presigned URL could not be made",
})

# The optional request body of POST /api/uploads (read by ocrservice.body.read_upload_request).
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {"required": False, "content": {"application/json": {"schema": UploadRequest.model_json_schema()}}}
}

# The request body of POST /api/ocr, for the OpenAPI document: it is parsed by hand (one of four
# forms, chosen by Content-Type) in ocrservice.body, so FastAPI cannot infer it.
OCR_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["image"], "properties": {
                    "image": {"type": "string", "format": "binary"},
                    **{k: {"type": "string", "description": f"{k} (as the query parameter; the query wins)"}
                       for k in ("allowlist", "blocklist", "pattern", "hotwords")}}}
            },
            "application/json": {"schema": OCRJson.model_json_schema()},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}

# The 200 answers of POST /api/ocr: JSON (an image's or a document's), or the searchable PDF.
OCR_PDF_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON; with `output=pdf` or `Accept: application/pdf`, the searchable PDF",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}
