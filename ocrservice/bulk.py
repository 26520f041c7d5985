"""Bulk OCR: S3 object-created events, delivered through SQS, become result JSON next to the images.

    s3://bucket/input/a/b.jpg  ->  s3://bucket/results/input/a/b.jpg.json
                         fails ->  s3://bucket/errors/input/a/b.jpg.json + the message is retried,
                                   then moved to the dead-letter queue by SQS's redrive policy
    s3://bucket/input/a/c.pdf  ->  s3://bucket/results/input/a/c.pdf.json     (pages, as the API's JSON)
                                 + s3://bucket/results/input/a/c.pdf.ocr.pdf  (the searchable PDF)

A PDF or multi-page TIFF is rendered and OCRed page by page (ocrcore.document), never holding
more than one rendered page, up to ``OCR_BULK_MAX_PAGES`` pages (more: the object fails).

The Lambda entry is ``ocrservice.lambda_handler.bulk_handler`` (same image as the API, a second
handler; the engine and numba cache are set up there once per container). This module is the
logic only, with the engine and the S3 client passed in, so tests drive it with moto.

Per SQS message (each holds one S3 event, sometimes several records):
- every image of the message OCRed and its result written -> the message succeeds;
- anything raised (corrupt image, missing object, S3 error) -> an error JSON is written under
  ``errors/`` and the message id is returned in ``batchItemFailures``, so SQS retries only the
  failed messages (the function needs ``ReportBatchItemFailures``) and, after the queue's
  ``maxReceiveCount``, moves them to the dead-letter queue. Nothing is dropped silently;
- when the invocation is about to time out, the messages not yet started are returned as
  failures too (retried later) instead of the whole batch timing out and being retried.
S3's ``s3:TestEvent`` and keys under the results/errors prefixes (loop guard) are skipped.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

log = logging.getLogger("ocr.bulk")

MiB = 1024 * 1024


@dataclass(frozen=True)
class BulkSettings:
    results_prefix: str = "results/"
    errors_prefix: str = "errors/"
    max_bytes: int = 50 * MiB  # larger objects fail (and are reported) instead of filling memory
    max_pages: int = 1000  # most pages of one PDF/TIFF
    max_attempts: int = 0  # the queue's maxReceiveCount, for the error JSON's "final" flag (0: unknown)
    reserve_ms: int = 5000  # stop starting new messages when less than this (or 2x the slowest) is left

    @classmethod
    def from_settings(cls, settings) -> BulkSettings:
        """The bulk part of :class:`ocrservice.config.Settings` (``OCR_BULK_*``)."""
        return cls(results_prefix=settings.bulk_results_prefix, errors_prefix=settings.bulk_errors_prefix,
                   max_bytes=settings.bulk_max_bytes, max_pages=settings.bulk_max_pages,
                   max_attempts=settings.bulk_max_attempts,
                   reserve_ms=settings.bulk_reserve_ms)


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None


class BulkError(Exception):
    """A failure of one image that is not an engine error (too large, unreadable event)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def result_key(key: str, settings: BulkSettings) -> str:
    return f"{settings.results_prefix}{key}.json"


def searchable_key(key: str, settings: BulkSettings) -> str:
    """Where a document's searchable PDF goes (under the results prefix, so it starts no new job)."""
    return f"{settings.results_prefix}{key}.ocr.pdf"


def error_key(key: str, settings: BulkSettings) -> str:
    return f"{settings.errors_prefix}{key}.json"


def s3_objects(body: str) -> list[S3Object]:
    """The objects of the S3 event notification in one SQS message body ([] for a test event)."""
    try:
        event = json.loads(body)
    except (TypeError, json.JSONDecodeError):
        raise BulkError("invalid_event", "the SQS message is not an S3 event notification (not JSON)") from None
    if not isinstance(event, dict):
        raise BulkError("invalid_event", "the SQS message is not an S3 event notification")
    if event.get("Event") == "s3:TestEvent":
        return []
    records = event.get("Records")
    if not isinstance(records, list):
        raise BulkError("invalid_event", "the SQS message has no S3 Records")
    out = []
    for rec in records:
        if rec.get("eventSource") != "aws:s3" or not str(rec.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = rec["s3"]
        obj = s3["object"]
        out.append(
            S3Object(
                bucket=s3["bucket"]["name"],
                key=unquote_plus(obj["key"]),  # event keys are URL-encoded, spaces as '+'
                size=obj.get("size"),
                etag=obj.get("eTag"),
            )
        )
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _put_json(s3, bucket: str, key: str, doc: dict) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        ContentType="application/json; charset=utf-8",
    )


def _skipped(obj: S3Object, settings: BulkSettings) -> bool:
    return obj.key.startswith((settings.results_prefix, settings.errors_prefix)) or obj.key.endswith("/")


def process_object(engine, s3, obj: S3Object, settings: BulkSettings,
                   remaining_ms: Callable[[], int] | None = None) -> dict:
    """OCR one S3 object and write its result JSON (and a document's searchable PDF). Raises on
    any failure; a document stops between pages once less than ``reserve_ms`` is left."""
    if obj.size is not None and obj.size > settings.max_bytes:
        raise BulkError("image_too_large", f"object is {obj.size:,} bytes; the bulk limit is {settings.max_bytes:,}")
    resp = s3.get_object(Bucket=obj.bucket, Key=obj.key)
    length = int(resp.get("ContentLength") or 0)
    if length > settings.max_bytes:
        resp["Body"].close()
        raise BulkError("image_too_large", f"object is {length:,} bytes; the bulk limit is {settings.max_bytes:,}")
    data = resp["Body"].read()
    from .documents import is_document

    if is_document(data):
        return _process_document(engine, s3, obj, settings, data, resp.get("ETag", "").strip('"'), remaining_ms)
    result = engine.ocr(data)
    doc = {
        "success": True,
        **result.to_dict(),
        "source": {"bucket": obj.bucket, "key": obj.key, "etag": resp.get("ETag", "").strip('"'), "bytes": len(data)},
        "profile": engine.config.profile,
        "timings": {k: round(v, 4) for k, v in result.timings.items()},
        "processed_at": _now(),
    }
    out_key = result_key(obj.key, settings)
    _put_json(s3, obj.bucket, out_key, doc)
    return {"key": obj.key, "result_key": out_key, "lines": len(result.lines), "seconds": result.timings.get("total")}


def _process_document(engine, s3, obj: S3Object, settings: BulkSettings, data: bytes, etag: str,
                      remaining_ms: Callable[[], int] | None = None) -> dict:
    """A PDF or multi-page TIFF: pages OCRed one after another (only the current page's image in
    memory), then the results JSON and the searchable PDF written. Raises on any failure, and
    :class:`BulkError` ``time_exhausted`` when the invocation is about to time out mid-document
    (rather than Lambda killing the whole batch): the message is retried, and a document that
    never fits the function's timeout ends in the dead-letter queue with that error."""
    from ocrcore.document import searchable_pdf

    from .documents import document_dict, run_document

    t0 = time.perf_counter()

    slowest = 0.0
    last = t0

    def progress(page) -> None:
        nonlocal slowest, last
        now = time.perf_counter()
        slowest, last = max(slowest, now - last), now
        log.debug(json.dumps({"event": "bulk_page", "key": obj.key, "page": page.page, "lines": len(page.result.lines)}))
        if remaining_ms is not None:
            left = remaining_ms()
            if left < max(settings.reserve_ms, 2 * slowest * 1000):
                raise BulkError("time_exhausted", f"{left} ms left after page {page.page} of {obj.key}: the document "
                                "does not fit the function's timeout (raise BulkTimeout, lower BulkBatchSize, or split it)")

    entry = run_document(engine, data, pages=None, max_pages=settings.max_pages, force_ocr=False, on_page=progress)
    pdf = searchable_pdf(data, entry.result)
    pdf_key = searchable_key(obj.key, settings)
    s3.put_object(Bucket=obj.bucket, Key=pdf_key, Body=pdf, ContentType="application/pdf")
    seconds = time.perf_counter() - t0
    doc = {
        "success": True,
        **document_dict(entry),
        "searchable_pdf": {"bucket": obj.bucket, "key": pdf_key, "bytes": len(pdf)},
        "source": {"bucket": obj.bucket, "key": obj.key, "etag": etag, "bytes": len(data)},
        "profile": engine.config.profile,
        "timings": {k: round(v, 4) for k, v in entry.timings.items()},
        "seconds": round(seconds, 3),
        "processed_at": _now(),
    }
    out_key = result_key(obj.key, settings)
    _put_json(s3, obj.bucket, out_key, doc)
    return {"key": obj.key, "result_key": out_key, "pdf_key": pdf_key, "pages": len(entry.result.pages),
            "lines": entry.line_count, "seconds": round(seconds, 3)}


def _error_doc(obj: S3Object | None, exc: BaseException, message: dict, settings: BulkSettings) -> dict:
    attempt = int(message.get("attributes", {}).get("ApproximateReceiveCount", "1") or 1)
    code = getattr(exc, "code", None) or type(exc).__name__
    status = getattr(exc, "status", None)
    doc: dict[str, Any] = {
        "success": False,
        "error": {"code": code, "message": str(exc) or code, "type": type(exc).__name__},
        "source": {"bucket": obj.bucket, "key": obj.key} if obj else None,
        "message_id": message.get("messageId"),
        "attempt": attempt,
        "max_attempts": settings.max_attempts or None,
        # the last attempt: next, SQS moves the message to the dead-letter queue
        "final": bool(settings.max_attempts and attempt >= settings.max_attempts),
        # engine input errors (corrupt, unsupported, too many pixels) fail the same way every time
        "retryable": status is None or int(status) >= 500,
        "failed_at": _now(),
    }
    if status is not None:
        doc["error"]["status"] = int(status)
    return doc


def handle_event(
    event: dict,
    engine,
    s3,
    settings: BulkSettings | None = None,
    remaining_ms: Callable[[], int] | None = None,
) -> dict:
    """Process an SQS batch; returns ``{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}``."""
    if settings is None:
        from .config import load_settings

        settings = BulkSettings.from_settings(load_settings())
    records = event.get("Records") or []
    failures: list[dict[str, str]] = []
    done = failed = deferred = skipped = 0
    slowest_ms = 0.0
    t_start = time.perf_counter()
    for i, message in enumerate(records):
        message_id = message.get("messageId", "")
        if remaining_ms is not None:
            left = remaining_ms()
            if left < max(settings.reserve_ms, 2 * slowest_ms):
                rest = [m.get("messageId", "") for m in records[i:]]
                failures += [{"itemIdentifier": mid} for mid in rest]
                deferred = len(rest)
                log.warning(json.dumps({"event": "bulk_deferred", "messages": deferred, "remaining_ms": left}))
                break
        t0 = time.perf_counter()
        current: S3Object | None = None
        try:
            for obj in s3_objects(message.get("body", "")):
                current = obj
                if _skipped(obj, settings):
                    skipped += 1
                    continue
                info = process_object(engine, s3, obj, settings, remaining_ms)
                done += 1
                log.info(json.dumps({"event": "bulk_ok", "message_id": message_id, **info}, ensure_ascii=False))
                if int(message.get("attributes", {}).get("ApproximateReceiveCount", "1") or 1) > 1:
                    _delete_quietly(s3, obj.bucket, error_key(obj.key, settings))  # earlier attempt failed
        except Exception as exc:
            failed += 1
            failures.append({"itemIdentifier": message_id})
            doc = _error_doc(current, exc, message, settings)
            log.error(
                json.dumps({"event": "bulk_failed", **doc, "traceback": traceback.format_exc(limit=5)}, ensure_ascii=False)
            )
            if current is not None:
                try:
                    _put_json(s3, current.bucket, error_key(current.key, settings), doc)
                except Exception:
                    log.exception("could not write the error JSON for s3://%s/%s", current.bucket, current.key)
        slowest_ms = max(slowest_ms, (time.perf_counter() - t0) * 1000)
    log.info(
        json.dumps(
            {
                "event": "bulk_batch",
                "messages": len(records),
                "ok": done,
                "failed": failed,
                "deferred": deferred,
                "skipped": skipped,
                "seconds": round(time.perf_counter() - t_start, 3),
            }
        )
    )
    return {"batchItemFailures": failures}


def _delete_quietly(s3, bucket: str, key: str) -> None:
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except Exception:
        log.warning("could not delete stale s3://%s/%s", bucket, key)
