"""Bulk OCR (ocrservice/bulk.py) against moto's S3 and SQS server on 127.0.0.1, with the real engine.

The wiring is the deployed one: the bucket notifies the queue of objects created under
``input/``, the queue redrives to a dead-letter queue, and the test plays Lambda's SQS event
source mapping — receive a batch, turn it into the Lambda event, call the handler, delete the
messages that succeeded and let the reported failures come back until SQS gives up on them.
"""

from __future__ import annotations

import difflib
import json
import random
from urllib.parse import unquote_plus

import boto3
import pytest

from ocrcore import EngineConfig, OCREngine
from ocrcore.synth import render_page
from ocrservice import bulk
from tests.helpers import jpeg_bytes, moto_server, png_bytes

REGION = "us-east-1"
MAX_RECEIVE = 2  # attempts before the dead-letter queue (the template's BulkMaxReceiveCount)


@pytest.fixture(scope="module")
def moto_endpoint():
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            mp.setenv(name, value)
        with moto_server() as endpoint:
            yield endpoint


@pytest.fixture(scope="module")
def engine():
    return OCREngine(EngineConfig.from_env(profile="tiny", threads=1))


@pytest.fixture()
def aws(moto_endpoint):
    """A fresh bucket -> queue (-> DLQ) wiring per test."""
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name=REGION)
    suffix = f"{random.randrange(16**8):08x}"
    bucket = f"ocr-bulk-test-{suffix}"
    dlq_url = sqs.create_queue(QueueName=f"bulk-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"bulk-{suffix}",
        Attributes={
            "VisibilityTimeout": "60",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "input/"}]}},
                }
            ]
        },
    )
    return type("Aws", (), {"s3": s3, "sqs": sqs, "bucket": bucket, "queue_url": queue_url, "queue_arn": queue_arn, "dlq_url": dlq_url})


def receive(aws, url=None, wait=1) -> list[dict]:
    msgs: list[dict] = []
    while True:
        got = aws.sqs.receive_message(
            QueueUrl=url or aws.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, AttributeNames=["All"]
        ).get("Messages", [])
        if not got:
            return msgs
        msgs += got
        wait = 0


def lambda_event(aws, messages: list[dict]) -> dict:
    """What Lambda's SQS event source mapping hands the function for these messages."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": aws.queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def run_batch(aws, engine, settings, messages, **kw) -> set[str]:
    """One invocation, then what the event source mapping does with the response."""
    resp = bulk.handle_event(lambda_event(aws, messages), engine, aws.s3, settings, **kw)
    assert set(resp) == {"batchItemFailures"}
    failed = {f["itemIdentifier"] for f in resp["batchItemFailures"]}
    for m in messages:
        if m["MessageId"] in failed:  # back on the queue at once (instead of after the visibility timeout)
            aws.sqs.change_message_visibility(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        else:
            aws.sqs.delete_message(QueueUrl=aws.queue_url, ReceiptHandle=m["ReceiptHandle"])
    return failed


def get_json(aws, key):
    return json.loads(aws.s3.get_object(Bucket=aws.bucket, Key=key)["Body"].read())


def keys(aws, prefix):
    return sorted(o["Key"] for o in aws.s3.list_objects_v2(Bucket=aws.bucket, Prefix=prefix).get("Contents", []))


def similarity(found: list[str], truth: list[str]) -> float:
    """Character-level similarity of the page text, ignoring case and spaces (tiny model)."""
    norm = lambda lines: "".join(lines).lower().replace(" ", "")
    return difflib.SequenceMatcher(None, norm(found), norm(truth)).ratio()


def settings(**kw):
    return bulk.BulkSettings(max_attempts=MAX_RECEIVE, **kw)


# --------------------------------------------------------------------------- the whole flow


def test_every_image_gets_a_result_and_a_corrupt_one_ends_in_the_dead_letter_queue(aws, engine):
    pages = {}
    for i, key in enumerate(["input/a.png", "input/scans/b.jpg", "input/发票 2024/c d+e.png", "input/d.png"]):
        img, truth = render_page(100 + i, (640, 480), n_lines=3)
        pages[key] = [t.text for t in truth]
        data = jpeg_bytes(img) if key.endswith(".jpg") else png_bytes(img)
        aws.s3.put_object(Bucket=aws.bucket, Key=key, Body=data)
    aws.s3.put_object(Bucket=aws.bucket, Key="input/broken.jpg", Body=b"\xff\xd8\xff\xe0 not really a jpeg")
    aws.s3.put_object(Bucket=aws.bucket, Key="elsewhere/x.png", Body=b"outside the input prefix: no event")

    messages = receive(aws)
    bodies = [json.loads(m["Body"]) for m in messages]
    assert sum(b.get("Event") == "s3:TestEvent" for b in bodies) == 1  # S3 sends one on configuration
    assert len(messages) == 1 + 5

    failed = run_batch(aws, engine, settings(), messages)
    broken_id = next(m["MessageId"] for m in messages if "broken.jpg" in m["Body"])
    assert failed == {broken_id}, "only the corrupt image's message is reported (partial batch failure)"

    # every good image: a result next to it under results/, with the engine's output
    assert keys(aws, "results/") == sorted(f"results/{k}.json" for k in pages)
    for key, truth in pages.items():
        doc = get_json(aws, f"results/{key}.json")
        assert doc["success"] is True and doc["source"]["key"] == key
        assert doc["width"] == 640 and doc["height"] == 480 and doc["profile"] == "tiny"
        found = [line["text"] for line in doc["text"]]
        assert len(found) == len(truth)
        assert similarity(found, truth) > 0.85, (found, truth)

    # the failure is written down, not dropped
    err = get_json(aws, "errors/input/broken.jpg.json")
    assert err["success"] is False and err["error"]["code"] == "invalid_image" and err["error"]["status"] == 400
    assert err["attempt"] == 1 and err["final"] is False and err["retryable"] is False
    assert err["message_id"] == broken_id

    # SQS redelivers only the failed message; it fails again (last attempt) ...
    again = receive(aws)
    assert [m["MessageId"] for m in again] == [broken_id]
    assert again[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert run_batch(aws, engine, settings(), again) == {broken_id}
    err = get_json(aws, "errors/input/broken.jpg.json")
    assert err["attempt"] == MAX_RECEIVE and err["final"] is True

    # ... and then SQS moves it to the dead-letter queue instead of delivering it a third time
    assert receive(aws) == []
    dead = receive(aws, aws.dlq_url)
    assert [m["MessageId"] for m in dead] == [broken_id]
    assert unquote_plus(json.loads(dead[0]["Body"])["Records"][0]["s3"]["object"]["key"]) == "input/broken.jpg"
    assert keys(aws, "results/input/broken") == []


def test_a_retry_that_succeeds_removes_the_stale_error(aws, engine):
    img, _ = render_page(7, (480, 320), n_lines=2)
    aws.s3.put_object(Bucket=aws.bucket, Key="input/late.png", Body=png_bytes(img))
    messages = [m for m in receive(aws) if "late.png" in m["Body"]]
    aws.s3.delete_object(Bucket=aws.bucket, Key="input/late.png")  # gone when the first attempt runs
    assert run_batch(aws, engine, settings(), messages) == {messages[0]["MessageId"]}
    err = get_json(aws, "errors/input/late.png.json")
    assert err["error"]["code"] == "NoSuchKey" and err["retryable"] is True

    aws.s3.put_object(Bucket=aws.bucket, Key="input/late.png", Body=png_bytes(img))  # back (notifies again)
    retry = [m for m in receive(aws) if m["MessageId"] == messages[0]["MessageId"]]
    assert retry and retry[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    assert run_batch(aws, engine, settings(), retry) == set()
    assert keys(aws, "results/") == ["results/input/late.png.json"]
    assert keys(aws, "errors/") == []


# --------------------------------------------------------------------------- edge cases


def _message(body, mid="m-1", receive_count="1") -> dict:
    return {"messageId": mid, "body": body if isinstance(body, str) else json.dumps(body),
            "attributes": {"ApproximateReceiveCount": receive_count}, "eventSource": "aws:sqs"}


def _s3_event(bucket, key, size=None):
    obj = {"key": key, "eTag": "0"}
    if size is not None:
        obj["size"] = size
    return {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
                         "s3": {"bucket": {"name": bucket}, "object": obj}}]}


def test_test_events_and_own_outputs_are_skipped_and_bad_messages_fail(aws, engine):
    event = {
        "Records": [
            _message({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": aws.bucket}, "test"),
            _message(_s3_event(aws.bucket, "results/input/a.png.json"), "loop"),  # never OCR our own output
            _message("this is not JSON", "garbage"),
            _message({"Records": "nope"}, "no-records"),
        ]
    }
    resp = bulk.handle_event(event, engine, aws.s3, settings())
    assert {f["itemIdentifier"] for f in resp["batchItemFailures"]} == {"garbage", "no-records"}
    assert keys(aws, "results/") == [] and keys(aws, "errors/") == []


def test_oversized_objects_fail_before_download(aws, engine):
    aws.s3.put_object(Bucket=aws.bucket, Key="input/huge.png", Body=b"\x89PNG" + b"\0" * 5000)
    ev = {"Records": [_message(_s3_event(aws.bucket, "input/huge.png", size=5004), "big")]}
    resp = bulk.handle_event(ev, engine, aws.s3, settings(max_bytes=4096))
    assert resp == {"batchItemFailures": [{"itemIdentifier": "big"}]}
    assert get_json(aws, "errors/input/huge.png.json")["error"]["code"] == "image_too_large"


def test_messages_not_started_before_the_timeout_are_returned_for_retry(aws, engine):
    img, _ = render_page(3, (320, 240), n_lines=1)
    for k in ("input/t1.png", "input/t2.png"):
        aws.s3.put_object(Bucket=aws.bucket, Key=k, Body=png_bytes(img))
    ev = {"Records": [_message(_s3_event(aws.bucket, k), k) for k in ("input/t1.png", "input/t2.png")]}
    left = iter([60_000, 1_000])  # plenty before the first image, 1 s before the second
    resp = bulk.handle_event(ev, engine, aws.s3, settings(), remaining_ms=lambda: next(left))
    assert resp == {"batchItemFailures": [{"itemIdentifier": "input/t2.png"}]}
    assert keys(aws, "results/") == ["results/input/t1.png.json"]
    assert keys(aws, "errors/") == []  # deferred, not failed


def test_settings_from_env():
    from ocrservice.config import load_settings

    s = bulk.BulkSettings.from_settings(load_settings(
        {"OCR_BULK_RESULTS_PREFIX": "/out", "OCR_BULK_ERRORS_PREFIX": "bad/", "OCR_BULK_MAX_BYTES": "10", "OCR_BULK_MAX_ATTEMPTS": "3"}
    ))
    assert (s.results_prefix, s.errors_prefix, s.max_bytes, s.max_attempts) == ("out/", "bad/", 10, 3)
    assert s.max_pages == 1000 and bulk.searchable_key("input/a.pdf", s) == "out/input/a.pdf.ocr.pdf"
    assert bulk.result_key("input/a b.png", s) == "out/input/a b.png.json"


# --------------------------------------------------------------------------- PDFs


def _pillow_pdf(images, dpi: int = 150) -> bytes:
    import io

    from PIL import Image

    pil = [Image.fromarray(img[:, :, ::-1].copy()) if not isinstance(img, Image.Image) else img for img in images]
    buf = io.BytesIO()
    pil[0].save(buf, "PDF", save_all=True, append_images=pil[1:], resolution=dpi)
    return buf.getvalue()


def test_a_pdf_gets_pages_json_and_a_searchable_pdf_next_to_its_result(aws, engine):
    import pypdfium2 as pdfium

    images, truths = [], []
    for seed in (301, 302):
        img, truth = render_page(seed, (720, 480), n_lines=3)
        images.append(img)
        truths.append([t.text for t in truth])
    aws.s3.put_object(Bucket=aws.bucket, Key="input/合同 scan.pdf", Body=_pillow_pdf(images))
    aws.s3.put_object(Bucket=aws.bucket, Key="input/cut.pdf", Body=_pillow_pdf(images)[:900])
    messages = [m for m in receive(aws) if ".pdf" in unquote_plus(m["Body"])]
    assert len(messages) == 2
    failed = run_batch(aws, engine, settings(), messages)
    assert failed == {next(m["MessageId"] for m in messages if "cut.pdf" in m["Body"])}

    doc = get_json(aws, "results/input/合同 scan.pdf.json")
    assert doc["success"] is True and doc["kind"] == "pdf" and doc["page_count"] == 2
    assert [p["page"] for p in doc["pages"]] == [1, 2]
    for page, truth in zip(doc["pages"], truths, strict=True):
        assert page["source"] == "ocr" and page["dpi"] > 0
        assert similarity([line["text"] for line in page["text"]], truth) > 0.8
    assert [line["page"] for line in doc["text"]] == [p["page"] for p in doc["pages"] for _ in p["text"]]
    pdf_key = "results/input/合同 scan.pdf.ocr.pdf"
    assert doc["searchable_pdf"]["key"] == pdf_key
    obj = aws.s3.get_object(Bucket=aws.bucket, Key=pdf_key)
    assert obj["ContentType"] == "application/pdf"
    pdf = pdfium.PdfDocument(obj["Body"].read())
    layer = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
    pdf.close()
    assert len(layer) == 2
    for text, truth in zip(layer, truths, strict=True):
        assert similarity(text.split(), truth) > 0.7, (text, truth)

    # the broken PDF is reported like a broken image: an input error, not retryable
    err = get_json(aws, "errors/input/cut.pdf.json")
    assert err["error"]["code"] == "pdf_invalid" and err["error"]["status"] == 422 and err["retryable"] is False
    # the searchable PDF under results/ starts no new job (the loop guard), the input is not touched
    assert keys(aws, "input/") == ["input/cut.pdf", "input/合同 scan.pdf"]


def test_bulk_takes_more_pages_than_a_request_up_to_its_own_limit(aws, engine):
    from PIL import Image

    blank = Image.new("L", (36, 36), 255)
    aws.s3.put_object(Bucket=aws.bucket, Key="input/long.pdf", Body=_pillow_pdf([blank] * 120, dpi=72))
    aws.s3.put_object(Bucket=aws.bucket, Key="input/longer.pdf", Body=_pillow_pdf([blank] * 131, dpi=72))
    messages = [m for m in receive(aws) if ".pdf" in m["Body"]]
    failed = run_batch(aws, engine, settings(max_pages=130), messages)
    assert failed == {next(m["MessageId"] for m in messages if "longer.pdf" in m["Body"])}
    assert get_json(aws, "results/input/long.pdf.json")["page_count"] == 120  # over the API's 100
    err = get_json(aws, "errors/input/longer.pdf.json")
    assert err["error"]["code"] == "too_many_pages" and err["retryable"] is False


def test_a_document_that_runs_out_of_time_stops_between_pages_and_is_retried(aws, engine):
    from PIL import Image

    blank = Image.new("L", (36, 36), 255)
    aws.s3.put_object(Bucket=aws.bucket, Key="input/slow.pdf", Body=_pillow_pdf([blank] * 3, dpi=72))
    messages = [m for m in receive(aws) if "slow.pdf" in m["Body"]]
    left = iter([60_000, 59_000, 1_000, 1_000])  # plenty to start, then 1 s left after page 2
    failed = run_batch(aws, engine, settings(), messages, remaining_ms=lambda: next(left))
    assert failed == {messages[0]["MessageId"]}
    err = get_json(aws, "errors/input/slow.pdf.json")
    assert err["error"]["code"] == "time_exhausted" and "page 2" in err["error"]["message"]
    assert err["retryable"] is True
    assert keys(aws, "results/") == []  # nothing half-written
