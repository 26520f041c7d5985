"""Large images through S3: presigned PUT URLs, and fetching an uploaded object by key.

For images over the synchronous body limit (API Gateway's 10 MB, or ``OCR_MAX_BYTES``): the
client asks ``POST /api/uploads`` for a URL, PUTs the bytes to S3 itself, then calls
``POST /api/ocr`` with ``{"s3_key": ...}``. Keys are generated here under ``OCR_UPLOAD_PREFIX``
and only keys under that prefix are read back, so the API cannot be used to read other objects.

Scope and bounds of a presigned URL (SigV4 query signing binds the method, the key and every
signed header):

- the key is ``<prefix><owner>/<yyyy/mm/dd>/<128-bit random hex><ext>``, where ``owner`` is 16 hex of
  SHA-256 of the caller's identity (ocrservice.auth.caller_identity: the token's, or the AWS_IAM
  caller's); ``{"s3_key"}`` is OCRed only for the caller whose owner segment it carries (403
  otherwise), so one token's holder cannot OCR another's uploads even knowing the key, and the
  random part cannot be guessed by anyone;
- ``Content-Length`` is a signed header set to the ``size`` the client declared (itself at most
  ``OCR_UPLOAD_MAX_BYTES``), so S3 refuses a larger (or any other) body;
- ``Content-Type`` is signed when given; the URL expires after ``OCR_UPLOAD_EXPIRES`` seconds;
- the bucket is private and deletes uploads after a day (template.yaml lifecycle rule).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import threading
import time
import uuid

from .config import Settings
from .errors import ApiError

_KEY_RE = re.compile(r"^[A-Za-z0-9!_.*'()/-]{1,512}$")
_EXT_BY_TYPE = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
    "application/pdf": ".pdf",
}


class Uploads:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.settings.upload_bucket)

    def _require(self) -> None:
        if not self.enabled:
            raise ApiError(
                501, "uploads_not_configured",
                "large-image uploads are not configured on this server (set OCR_UPLOAD_BUCKET); "
                "send the image directly to POST /api/ocr instead",
            )

    def client(self):
        with self._lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                s = self.settings
                self._client = boto3.client(
                    "s3",
                    region_name=s.aws_region,
                    endpoint_url=s.s3_endpoint_url or None,
                    config=Config(signature_version="s3v4", retries={"max_attempts": 3, "mode": "standard"}),
                )
            return self._client

    def owner_prefix(self, identity: str) -> str:
        """The key prefix of ``identity``'s uploads: ``<OCR_UPLOAD_PREFIX><16 hex of SHA-256>/``."""
        return f"{self.settings.upload_prefix}{hashlib.sha256(identity.encode()).hexdigest()[:16]}/"

    def presign(self, content_type: str | None = None, filename: str | None = None, *,
                size: int | None = None, identity: str = "anonymous") -> dict:
        """A presigned PUT of exactly ``size`` bytes to a new key of ``identity``'s.
        Blocking (boto3): call from a worker thread.

        Raises :class:`ApiError` 501 (uploads off), 422 (``size`` missing), 413 (``size`` over
        ``OCR_UPLOAD_MAX_BYTES``), 415 (not an image type)."""
        self._require()
        s = self.settings
        if size is None:
            raise ApiError(422, "missing_field", "size (the image's bytes) is required: it is signed into the upload URL")
        if size > s.upload_max_bytes:
            raise ApiError(413, "image_too_large", f"size is {size:,} bytes; the upload limit is {s.upload_max_bytes:,}")
        ext = ""
        if content_type:
            content_type = content_type.split(";")[0].strip().lower()
        if content_type == "application/octet-stream":  # "some bytes": decide from the file name, or sign no type
            content_type = mimetypes.guess_type(filename or "")[0] or None
        if content_type:
            if not (content_type.startswith("image/") or content_type == "application/pdf"):
                raise ApiError(415, "unsupported_media_type",
                               f"content_type must be an image type or application/pdf, got {content_type!r}")
            ext = _EXT_BY_TYPE.get(content_type) or (mimetypes.guess_extension(content_type) or "")
        if not ext and filename:
            m = re.search(r"\.([A-Za-z0-9]{1,5})$", filename)
            ext = f".{m.group(1).lower()}" if m else ""
        key = f"{self.owner_prefix(identity)}{time.strftime('%Y/%m/%d', time.gmtime())}/{uuid.uuid4().hex}{ext}"
        params: dict = {"Bucket": s.upload_bucket, "Key": key, "ContentLength": size}
        headers: dict[str, str] = {}
        if content_type:
            params["ContentType"] = content_type
            headers["Content-Type"] = content_type
        url = self.client().generate_presigned_url(
            "put_object", Params=params, ExpiresIn=s.upload_expires, HttpMethod="PUT"
        )
        return {
            "upload_url": url,
            "s3_key": key,
            "expires_in": s.upload_expires,
            "method": "PUT",
            "headers": headers,
            "max_bytes": s.upload_max_bytes,
            "size": size,
        }

    def check_key(self, key: object, identity: str = "anonymous") -> str:
        """``key`` if it is an upload key of ``identity``'s; :class:`ApiError` 400 (malformed or
        outside ``OCR_UPLOAD_PREFIX``) or 403 (another caller's)."""
        self._require()
        if not isinstance(key, str) or not _KEY_RE.match(key) or ".." in key:
            raise ApiError(400, "invalid_s3_key", "s3_key must be a key returned by POST /api/uploads")
        if not key.startswith(self.settings.upload_prefix):
            raise ApiError(400, "invalid_s3_key", f"s3_key must start with {self.settings.upload_prefix!r}")
        if not key.startswith(self.owner_prefix(identity)):
            raise ApiError(403, "forbidden_s3_key", "s3_key was not issued to this caller: use a key POST /api/uploads returned to you")
        return key

    def fetch(self, key: str) -> bytes:
        """The object's bytes, refusing ones over ``OCR_UPLOAD_MAX_BYTES``. Blocking.

        One ranged GET of at most limit + 1 bytes: the size check and the read are the same
        request, so an object replaced by a larger one between a check and a read cannot make
        the service download more than the limit."""
        from botocore.exceptions import BotoCoreError, ClientError

        s = self.settings
        limit = s.upload_max_bytes
        try:
            obj = self.client().get_object(Bucket=s.upload_bucket, Key=key, Range=f"bytes=0-{limit}")
            total = _total_size(obj)
            if total > limit:
                obj["Body"].close()
                raise ApiError(413, "image_too_large", f"uploaded object is {total:,} bytes; the limit is {limit:,}")
            data = obj["Body"].read(limit + 1)
            if len(data) > limit:
                raise ApiError(413, "image_too_large", f"uploaded object is over the limit of {limit:,} bytes")
            return data
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise ApiError(404, "s3_key_not_found", f"no uploaded object {key!r} (upload it first, or it expired)") from None
            if code == "InvalidRange":  # a zero-byte object has no byte 0
                return b""
            raise ApiError(502, "storage_error", f"could not read the upload from S3: {code or exc}") from None
        except BotoCoreError as exc:
            raise ApiError(502, "storage_error", f"could not reach S3: {exc}") from None


def _total_size(obj: dict) -> int:
    """The whole object's size from a ranged GET: ``Content-Range: bytes 0-N/TOTAL``."""
    content_range = str(obj.get("ContentRange") or "")
    if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
        return int(content_range.rsplit("/", 1)[1])
    return int(obj.get("ContentLength", 0))
