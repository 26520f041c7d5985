"""infra/deploy_web.py against moto's server on 127.0.0.1 (S3, CloudFormation, CloudFront).

A stack with the template's output names is created in moto, then the script runs exactly as
the README says (``--stack NAME``) and the uploaded objects are read back.
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
import sys
from pathlib import Path

import boto3
import pytest

from tests.helpers import moto_server

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
REGION = "us-east-1"
API_URL = "https://abc123.execute-api.us-east-1.amazonaws.com"

_spec = importlib.util.spec_from_file_location("deploy_web", ROOT / "infra" / "deploy_web.py")
deploy_web = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("deploy_web", deploy_web)
_spec.loader.exec_module(deploy_web)


@pytest.fixture(scope="module")
def moto_env():
    with pytest.MonkeyPatch.context() as mp, moto_server() as endpoint:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": endpoint,  # every client the script makes goes to moto
        }.items():
            mp.setenv(name, value)
        yield endpoint


@pytest.fixture()
def stack(moto_env):
    """A stack exposing the outputs template.yaml gives (WebBucketName, ApiUrl, WebDistributionId)."""
    session = boto3.session.Session(region_name=REGION)
    cf = session.client("cloudfront")
    dist = cf.create_distribution(
        DistributionConfig={
            "CallerReference": f"test-{random.random()}",
            "Comment": "web",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "web", "DomainName": "web.s3.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "web", "ViewerProtocolPolicy": "redirect-to-https",
                                     "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
        }
    )["Distribution"]["Id"]
    name = f"ocr-{random.randrange(16**6):06x}"
    template = {
        "Parameters": {"Api": {"Type": "String"}, "Dist": {"Type": "String"}},
        "Resources": {"WebBucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {
            "WebBucketName": {"Value": {"Ref": "WebBucket"}},
            "ApiUrl": {"Value": {"Ref": "Api"}},
            "WebDistributionId": {"Value": {"Ref": "Dist"}},
        },
    }
    cfn = session.client("cloudformation")
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Api", "ParameterValue": API_URL + "/"},
                    {"ParameterKey": "Dist", "ParameterValue": dist}],
    )
    outputs = deploy_web.stack_outputs(cfn, name)
    return type("Stack", (), {"name": name, "session": session, "s3": session.client("s3"), "cf": cf, "dist": dist,
                              "bucket": outputs["WebBucketName"]})


def test_uploads_web_with_types_cache_headers_and_the_api_url(stack, capsys):
    stack.s3.put_object(Bucket=stack.bucket, Key="old-page.js", Body=b"stale")
    assert deploy_web.main(["--stack", stack.name, "--delete"]) == 0
    out = capsys.readouterr().out
    assert f"apiBase {API_URL}" in out

    local = sorted(p.relative_to(WEB).as_posix() for p in WEB.rglob("*") if p.is_file() and not p.name.startswith("."))
    listed = sorted(o["Key"] for o in stack.s3.list_objects_v2(Bucket=stack.bucket)["Contents"])
    assert listed == local, "every file of web/ and nothing else (the stale object is deleted)"

    expect_type = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                   ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
    for key in listed:
        head = stack.s3.head_object(Bucket=stack.bucket, Key=key)
        suffix = Path(key).suffix
        if suffix in expect_type:
            assert head["ContentType"] == expect_type[suffix], key
        assert head["CacheControl"] == ("no-cache" if key in ("index.html", "config.js") else "public, max-age=300"), key
        if key != "config.js":
            body = stack.s3.get_object(Bucket=stack.bucket, Key=key)["Body"].read()
            assert body == (WEB / key).read_bytes(), key

    config = stack.s3.get_object(Bucket=stack.bucket, Key="config.js")["Body"].read().decode()
    assert f'apiBase: "{API_URL}"' in config  # trailing slash of the output dropped
    assert "maxBytes: 4194304" in config  # the page switches to presigned uploads above 4 MiB
    assert "window.OCR_CONFIG" in config
    local_config = (WEB / "config.js").read_text()
    # every other setting of the page's config survives (e.g. lang)
    for key in re.findall(r"^\s*(\w+)\s*:", local_config, re.MULTILINE):
        assert re.search(rf"^\s*{key}\s*:", config, re.MULTILINE), key

    invalidations = stack.cf.list_invalidations(DistributionId=stack.dist)["InvalidationList"]
    assert invalidations["Quantity"] == 1


def test_plan_order_generated_config_hashed_assets_and_dotfiles(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<script src=config.js></script>")
    (tmp_path / "about.html").write_text("<p>about</p>")
    (tmp_path / "assets" / "app.3f9a8c1b2d.js").write_text("1")
    (tmp_path / "assets" / "logo.png").write_bytes(b"\x89PNG")
    (tmp_path / "assets" / "font.woff2").write_bytes(b"wOF2")
    (tmp_path / ".DS_Store").write_bytes(b"junk")
    files = deploy_web.plan(tmp_path, "https://api.example.com/", max_bytes=None)
    keys = [f.key for f in files]
    assert ".DS_Store" not in keys
    assert keys[-3:] == ["config.js", "about.html", "index.html"], "assets first, entry points last"
    by = {f.key: f for f in files}
    assert by["config.js"].body == b'window.OCR_CONFIG = {apiBase: "https://api.example.com"};\n'
    assert by["assets/app.3f9a8c1b2d.js"].cache_control == "public, max-age=31536000, immutable"
    assert by["assets/logo.png"].content_type == "image/png"
    assert by["assets/font.woff2"].content_type == "font/woff2"
    assert by["about.html"].cache_control == "no-cache"


def test_render_config_keeps_the_page_settings():
    src = 'window.OCR_CONFIG = {\n  apiBase: "",\n  maxBytes: 10 * 1024 * 1024,\n  lang: "zh",\n};\n'
    out = deploy_web.render_config(src, 'https://x.example/"q"')
    assert 'apiBase: "https://x.example/\\"q\\""' in out  # a JS string literal, quotes escaped
    assert "maxBytes: 4194304," in out and 'lang: "zh"' in out
    no_max = deploy_web.render_config('window.OCR_CONFIG = {apiBase: ""};', "https://a", 1000)
    assert 'apiBase: "https://a"' in no_max and "maxBytes: 1000" in no_max


def test_requires_a_target(moto_env, capsys):
    with pytest.raises(SystemExit):
        deploy_web.main(["--api-url", API_URL])
    assert "--stack" in capsys.readouterr().err
