"""The HTTP API's request and response shapes (pydantic): routes return these models, so FastAPI
validates every answer against the published contract and the OpenAPI document lists them.

The contract: ``POST /api/ocr`` -> ``{"success": true, "text": [{"text", "confidence", "box"}],
"processing_time"}``; fields are added, never removed or renamed (docs/api.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class LineOut(BaseModel):
    text: str = Field(examples=["北京市朝阳区建国路88号"])
    confidence: float = Field(examples=[0.987], description="0..1, mean of the character probabilities")
    box: list[list[int]] = Field(
        examples=[[[12, 30], [410, 30], [410, 62], [12, 62]]],
        description="four [x, y] points clockwise from top-left, in pixels of the (EXIF-rotated) image",
    )


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


class UploadResponse(BaseModel):
    success: bool = True
    upload_url: str
    s3_key: str
    expires_in: int
    method: str = "PUT"
    headers: dict[str, str]
    max_bytes: int


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


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": desc}
    for code, desc in {
        400: "not an image, corrupt or truncated, bad base64 or JSON, bad s3_key",
        404: "s3_key: no such uploaded object (not uploaded, or expired)",
        413: "too many bytes or too many pixels",
        415: "unsupported image format or request content type",
        422: "missing or misnamed field, bad query parameter",
        501: "s3_key given but uploads are not configured on this server (no OCR_UPLOAD_BUCKET)",
        502: "s3_key: the object store could not be read",
        503: "server saturated (retry after the Retry-After seconds) or engine not loaded",
    }.items()
}

UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": desc}
    for code, desc in {
        400: "the body is not valid JSON",
        413: "the body is over the request size limit",
        415: "content_type is not an image type",
        422: "a field of the wrong type",
        501: "uploads are not configured on this server (no OCR_UPLOAD_BUCKET)",
        502: "the presigned URL could not be made",
    }.items()
}

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
                "schema": {"type": "object", "required": ["image"], "properties": {"image": {"type": "string", "format": "binary"}}}
            },
            "application/json": {"schema": OCRJson.model_json_schema()},
            "image/*": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
