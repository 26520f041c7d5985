"""Upload the web page (web/) to the stack's S3 bucket, pointed at the stack's API.

    python infra/deploy_web.py --stack ocr                      # reads the stack's outputs
    python infra/deploy_web.py --bucket B --api-url https://... [--distribution-id E123]

Every file gets an explicit Content-Type and Cache-Control: the entry points (``*.html`` and
``config.js``) are ``no-cache`` so a deploy shows at once; files with a content hash in
their name are immutable for a year; the other assets are cached for five minutes. config.js
is rewritten on the way up with the API's URL (``apiBase``) and the size above which the page
switches to a presigned S3 upload (``maxBytes``: Lambda's 6 MB payload limit holds the base64
body, so 4 MiB by default). Assets go up first and index.html last, so a visitor never gets
a page whose scripts are missing; then the CloudFront distribution is invalidated.
``--delete`` removes objects that are no longer in web/. ``--dry-run`` only prints the plan.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_WEB_DIR = ROOT / "web"
CONFIG_NAME = "config.js"
# Lambda's synchronous payload is 6 MB and HTTP API / Function URL base64-encode binary bodies
# (x 4/3), so direct uploads stop at 4 MiB; larger images take the presigned S3 route.
DEFAULT_MAX_BYTES = 4 * 1024 * 1024

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".webmanifest": "application/manifest+json; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/vnd.microsoft.icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
}
NO_CACHE = "no-cache"
SHORT_CACHE = "public, max-age=300"
IMMUTABLE = "public, max-age=31536000, immutable"
_HASHED = re.compile(r"[.-][0-9a-f]{8,}\.[A-Za-z0-9]+$")


@dataclass(frozen=True)
class WebFile:
    key: str
    body: bytes
    content_type: str
    cache_control: str

    @property
    def md5(self) -> str:
        return hashlib.md5(self.body).hexdigest()


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def cache_control(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    if name.endswith(".html") or name == CONFIG_NAME:
        return NO_CACHE
    if _HASHED.search(name):
        return IMMUTABLE
    return SHORT_CACHE


def render_config(template: str | None, api_base: str, max_bytes: int | None = DEFAULT_MAX_BYTES) -> str:
    """web/config.js with ``apiBase`` (and ``maxBytes``) set; other settings are kept as they are."""
    api = json.dumps(api_base.rstrip("/"))
    if template and re.search(r"\bapiBase\s*:", template):
        text = re.sub(r"""\bapiBase\s*:\s*(?:"[^"\n]*"|'[^'\n]*'|`[^`\n]*`)""", lambda _: f"apiBase: {api}", template, count=1)
        if max_bytes is not None:
            if re.search(r"\bmaxBytes\s*:", text):
                text = re.sub(r"\bmaxBytes\s*:\s*[^,\n}]+", lambda _: f"maxBytes: {int(max_bytes)}", text, count=1)
            else:
                text = text.replace(f"apiBase: {api}", f"apiBase: {api},\n  maxBytes: {int(max_bytes)}", 1)
        if f"apiBase: {api}" in text:
            return text
    extra = f", maxBytes: {int(max_bytes)}" if max_bytes is not None else ""
    return f"window.OCR_CONFIG = {{apiBase: {api}{extra}}};\n"


def plan(web_dir: Path, api_base: str, max_bytes: int | None = DEFAULT_MAX_BYTES, prefix: str = "") -> list[WebFile]:
    """The objects to upload, in upload order: assets, then config.js, then the HTML pages."""
    web_dir = Path(web_dir)
    if not (web_dir / "index.html").is_file():
        raise SystemExit(f"{web_dir} has no index.html")
    files: list[WebFile] = []
    for path in sorted(p for p in web_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(web_dir).as_posix()
        if any(part.startswith(".") for part in rel.split("/")):
            continue  # .DS_Store, editor files
        body = path.read_bytes()
        if rel == CONFIG_NAME:
            body = render_config(body.decode("utf-8"), api_base, max_bytes).encode("utf-8")
        files.append(WebFile(prefix + rel, body, content_type(rel), cache_control(rel)))
    if not any(f.key == prefix + CONFIG_NAME for f in files):
        body = render_config(None, api_base, max_bytes).encode("utf-8")
        files.append(WebFile(prefix + CONFIG_NAME, body, content_type(CONFIG_NAME), NO_CACHE))

    def order(f: WebFile) -> tuple[int, str]:
        name = f.key.rsplit("/", 1)[-1]
        return (2 if name.endswith(".html") else 1 if name == CONFIG_NAME else 0, f.key)

    return sorted(files, key=order)


def upload(s3, bucket: str, files: list[WebFile], *, delete: bool = False, prefix: str = "", log=print) -> dict:
    """PUT every file (in the given order); with ``delete``, remove other objects under prefix."""
    for f in files:
        s3.put_object(
            Bucket=bucket, Key=f.key, Body=f.body, ContentType=f.content_type, CacheControl=f.cache_control
        )
        log(f"  put s3://{bucket}/{f.key}  {len(f.body):>8,} B  {f.content_type}  [{f.cache_control}]")
    removed: list[str] = []
    if delete:
        keep = {f.key for f in files}
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            stale = [o["Key"] for o in page.get("Contents", []) if o["Key"] not in keep]
            for i in range(0, len(stale), 1000):
                chunk = stale[i : i + 1000]
                s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True})
                removed += chunk
        for key in removed:
            log(f"  deleted s3://{bucket}/{key}")
    return {"uploaded": [f.key for f in files], "deleted": removed}


def invalidate(cloudfront, distribution_id: str, paths: list[str] | None = None) -> str:
    import time

    resp = cloudfront.create_invalidation(
        DistributionId=distribution_id,
        InvalidationBatch={
            "Paths": {"Quantity": len(paths or ["/*"]), "Items": paths or ["/*"]},
            "CallerReference": f"deploy-web-{time.time_ns()}",
        },
    )
    return resp["Invalidation"]["Id"]


def stack_outputs(cloudformation, stack: str) -> dict[str, str]:
    desc = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in desc.get("Outputs", [])}


def main(argv: list[str] | None = None, *, session=None) -> int:
    ap = argparse.ArgumentParser(
        description="Upload web/ to the stack's S3 bucket with content types, cache headers and the API URL."
    )
    ap.add_argument("--stack", help="CloudFormation stack deployed from template.yaml (reads its outputs)")
    ap.add_argument("--bucket", help="web bucket (default: the stack's WebBucketName output)")
    ap.add_argument("--api-url", help="API base URL written to config.js (default: the stack's ApiUrl output)")
    ap.add_argument("--distribution-id", help="CloudFront distribution to invalidate (default: WebDistributionId)")
    ap.add_argument("--region", help="AWS region (default: your AWS configuration)")
    ap.add_argument("--web-dir", type=Path, default=DEFAULT_WEB_DIR)
    ap.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help="config.js maxBytes (default 4 MiB)")
    ap.add_argument("--delete", action="store_true", help="delete objects in the bucket that are not in web/")
    ap.add_argument("--no-invalidate", action="store_true", help="skip the CloudFront invalidation")
    ap.add_argument("--dry-run", action="store_true", help="print what would be uploaded and stop")
    args = ap.parse_args(argv)

    if session is None:
        import boto3

        session = boto3.session.Session(region_name=args.region)

    bucket, api_url, dist = args.bucket, args.api_url, args.distribution_id
    if args.stack:
        outputs = stack_outputs(session.client("cloudformation"), args.stack)
        bucket = bucket or outputs.get("WebBucketName")
        api_url = api_url or outputs.get("ApiUrl")
        dist = dist or outputs.get("WebDistributionId")
    if not bucket or not api_url:
        ap.error("give --stack, or both --bucket and --api-url")

    files = plan(args.web_dir, api_url, args.max_bytes)
    print(f"web/ -> s3://{bucket}/  (apiBase {api_url.rstrip('/')}, {len(files)} files)")
    if args.dry_run:
        for f in files:
            print(f"  {f.key:32s} {len(f.body):>8,} B  {f.content_type}  [{f.cache_control}]")
        return 0
    upload(session.client("s3"), bucket, files, delete=args.delete)
    if dist and not args.no_invalidate:
        inv = invalidate(session.client("cloudfront"), dist)
        print(f"invalidated CloudFront distribution {dist} (/*): {inv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
