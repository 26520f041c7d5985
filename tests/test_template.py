"""template.yaml and infra/Dockerfile, checked offline with the real tools.

The template goes through the AWS SAM translator (as CloudFormation's transform would, with a
stub for the one AWS call it can make: listing managed policies) and the *transformed* output is
linted with cfn-lint, since cfn-lint on the SAM source misses errors inside SAM resources.
``sam build`` sets each image function's ImageUri; that is emulated the same way here.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint
from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
DOCKERFILE = ROOT / "infra" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-1"]


class _PolicyLoaderStub:
    """samtranslator's managed-policy loader without IAM: the names the template may use."""

    def load(self) -> dict[str, str]:
        return {
            "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "AWSLambdaSQSQueueExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
        }


def load_source() -> dict:
    tpl, errors = decode_str(TEMPLATE.read_text())
    assert not errors, errors
    return json.loads(json.dumps(tpl))  # plain dicts, as CloudFormation hands them to the transform


def sam_built(tpl: dict) -> dict:
    """What `sam build` + `sam deploy` do to image functions: set ImageUri to the pushed image."""
    for lid, res in tpl["Resources"].items():
        if res["Type"] == "AWS::Serverless::Function" and res["Properties"].get("PackageType") == "Image":
            tag = res["Metadata"]["DockerTag"]
            res["Properties"]["ImageUri"] = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/ocr:{lid.lower()}-{tag}"
    return tpl


def sam_transform(parameters: dict | None = None) -> dict:
    return transform(sam_built(load_source()), dict(parameters or {}), _PolicyLoaderStub())


@pytest.fixture(autouse=True)
def _offline_region(monkeypatch):
    # the translator asks boto3 for a region (it never calls AWS with the stub loader)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="module")
def cfn() -> dict:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        return sam_transform({"EnableBulk": "true", "EnableFunctionUrl": "true"})


def _problems(matches) -> list[str]:
    return [str(m) for m in matches if m.rule.id[0] in "EW"]


# --------------------------------------------------------------------------- transform + lint


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {"EnableBulk": "true", "Architecture": "x86_64", "ExtraCorsOrigin": "http://localhost:8080",
         "AlarmEmail": "ops@example.com", "BulkTimeout": "900"},
    ],
    ids=["defaults", "bulk-x86-extras"],
)
def test_transformed_template_lints_clean(parameters):
    out = sam_transform(parameters)
    assert not any(r["Type"].startswith("AWS::Serverless::") for r in out["Resources"].values())
    problems = _problems(lint(json.dumps(out), config=ManualArgs(regions=REGIONS)))
    assert problems == [], "\n".join(problems)


def test_source_template_lints_clean():
    problems = _problems(lint(TEMPLATE.read_text(), config=ManualArgs(regions=REGIONS)))
    assert problems == [], "\n".join(problems)


def test_lint_would_catch_a_broken_resource(cfn):
    """The lint above is real: the same output with one bad value fails."""
    broken = json.loads(json.dumps(cfn))
    broken["Resources"]["OcrFunction"]["Properties"]["MemorySize"] = 64
    assert any(m.rule.id == "E3034" for m in lint(json.dumps(broken), config=ManualArgs(regions=["us-east-1"])))


# --------------------------------------------------------------------------- what the issue asks for


def test_api_function_is_a_container_image_with_parameters(cfn):
    params = cfn["Parameters"]
    assert params["Architecture"]["Default"] == "arm64"
    assert sorted(params["Architecture"]["AllowedValues"]) == ["arm64", "x86_64"]
    fn = cfn["Resources"]["OcrFunction"]["Properties"]
    assert fn["PackageType"] == "Image" and "ImageUri" in fn["Code"]
    assert fn["Architectures"] == [{"Ref": "Architecture"}]
    assert fn["MemorySize"] == {"Ref": "MemorySize"} and fn["Timeout"] == {"Ref": "Timeout"}
    assert 1769 <= params["MemorySize"]["Default"] <= 10240 and params["Timeout"]["Default"] == 30
    assert fn["ImageConfig"]["Command"] == ["ocrservice.lambda_handler.handler"]
    env = fn["Environment"]["Variables"]
    for name in ("OCR_PROFILE", "OCR_MAX_PIXELS", "OCR_MAX_BYTES", "OCR_UPLOAD_BUCKET", "OCR_UPLOAD_EXPIRES"):
        assert name in env, name
    meta = cfn["Resources"]["OcrFunction"]["Metadata"]
    assert (ROOT / meta["DockerContext"] / meta["Dockerfile"]).resolve() == DOCKERFILE


def test_function_url_and_http_api_with_cors(cfn):
    res = cfn["Resources"]
    url = res["OcrFunctionUrl"]["Properties"]
    assert url["Cors"]["AllowOrigins"] and "authorization" in url["Cors"]["AllowHeaders"]
    api = res["OcrHttpApi"]["Properties"]
    assert api["ProtocolType"] == "HTTP" and api["CorsConfiguration"]["AllowOrigins"]
    assert "authorization" in api["CorsConfiguration"]["AllowHeaders"]
    integration = res["OcrHttpApiIntegration"]["Properties"]
    assert integration["PayloadFormatVersion"] == "2.0" and integration["IntegrationType"] == "AWS_PROXY"
    assert integration["IntegrationUri"] == {"Fn::GetAtt": ["OcrFunction", "Arn"]}
    assert res["OcrHttpApiRoute"]["Properties"]["RouteKey"] == "ANY /{proxy+}"
    assert "ApiUrl" in cfn["Outputs"] and "FunctionUrl" in cfn["Outputs"]


def test_web_bucket_is_private_and_readable_only_by_its_distribution(cfn):
    res = cfn["Resources"]
    block = res["WebBucket"]["Properties"]["PublicAccessBlockConfiguration"]
    assert all(block[k] is True for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
    origin = res["WebDistribution"]["Properties"]["DistributionConfig"]["Origins"][0]
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": ["WebOriginAccessControl", "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    oac = res["WebOriginAccessControl"]["Properties"]["OriginAccessControlConfig"]
    assert (oac["OriginAccessControlOriginType"], oac["SigningBehavior"]) == ("s3", "always")
    allows = [s for s in res["WebBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert len(allows) == 1
    allow = allows[0]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"} and allow["Action"] == "s3:GetObject"
    source_arn = json.dumps(allow["Condition"]["StringEquals"]["AWS:SourceArn"])
    assert "distribution/${WebDistribution}" in source_arn
    assert {"WebUrl", "ApiUrl"} <= set(cfn["Outputs"])


def test_bulk_is_optional_and_wired_for_retries_and_a_dead_letter_queue(cfn):
    res = cfn["Resources"]
    assert cfn["Parameters"]["EnableBulk"]["Default"] == "false"
    bulk = [lid for lid in res if lid.startswith(("Bulk", "OcrBulk"))]
    assert {"BulkBucket", "BulkQueue", "BulkDeadLetterQueue", "OcrBulkFunction", "OcrBulkFunctionUploads"} <= set(bulk)
    for lid in bulk:  # generated ones too (role, event source mapping)
        cond = res[lid].get("Condition")
        assert cond in ("BulkEnabled", "HasAlarmEmail"), lid
    queue = res["BulkQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["BulkDeadLetterQueue", "Arn"]}
    for timeout, row in cfn["Mappings"]["BulkTimeouts"].items():
        assert row["Visibility"] >= 6 * int(timeout)  # AWS: visibility >= 6x the function timeout
    assert sorted(cfn["Mappings"]["BulkTimeouts"]) == sorted(cfn["Parameters"]["BulkTimeout"]["AllowedValues"])
    esm = res["OcrBulkFunctionUploads"]["Properties"]
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["ScalingConfig"]["MaximumConcurrency"] == {"Ref": "BulkMaxConcurrency"}
    fn = res["OcrBulkFunction"]["Properties"]
    assert fn["ImageConfig"]["Command"] == ["ocrservice.lambda_handler.bulk_handler"]
    assert res["OcrBulkFunction"]["Metadata"] == res["OcrFunction"]["Metadata"]  # the same image
    notif = res["BulkBucket"]["Properties"]["NotificationConfiguration"]["QueueConfigurations"][0]
    assert notif["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": {"Ref": "BulkInputPrefix"}}]
    assert res["BulkBucket"]["DependsOn"] == "BulkQueuePolicy"
    assert "BulkDeadLetterQueueUrl" in cfn["Outputs"]


def test_every_environment_variable_is_read_by_the_code(cfn):
    code = "\n".join(p.read_text() for d in ("ocrcore", "ocrservice") for p in (ROOT / d).glob("*.py"))
    for lid, res in cfn["Resources"].items():
        if res["Type"] != "AWS::Lambda::Function":
            continue
        for name in res["Properties"]["Environment"]["Variables"]:
            assert f'"{name}"' in code, f"{lid}: {name} is set but nothing reads it"


def test_lambda_entry_points_exist():
    tree = ast.parse((ROOT / "ocrservice" / "lambda_handler.py").read_text())
    names = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    names |= {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    for command in ("handler", "bulk_handler"):
        assert command in names


# --------------------------------------------------------------------------- safe to expose (issue 14)
# CloudFormation decides Conditions and Fn::If at deploy time; resolve() does the same for given
# parameter values, so each AuthMode's resources can be checked as they would be created.


def _condition(expr, params: dict, conditions: dict) -> bool:
    if isinstance(expr, dict) and len(expr) == 1:
        (fn, arg), = expr.items()
        if fn == "Fn::Equals":
            a, b = (_value(x, params) for x in arg)
            return str(a) == str(b)
        if fn == "Fn::Not":
            return not _condition(arg[0], params, conditions)
        if fn == "Fn::And":
            return all(_condition(x, params, conditions) for x in arg)
        if fn == "Fn::Or":
            return any(_condition(x, params, conditions) for x in arg)
        if fn == "Condition":
            return _condition(conditions[arg], params, conditions)
    raise AssertionError(f"unsupported condition {expr!r}")


def _value(expr, params: dict):
    if isinstance(expr, dict) and set(expr) == {"Ref"} and expr["Ref"] in params:
        return params[expr["Ref"]]
    return expr


_NO_VALUE = object()


def _resolve(node, truth: dict[str, bool], params: dict):
    """Fn::If decided, AWS::NoValue dropped, Refs to parameters replaced by their values."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            cond, yes, no = node["Fn::If"]
            return _resolve(yes if truth[cond] else no, truth, params)
        if node == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if set(node) == {"Ref"} and node["Ref"] in params:
            return params[node["Ref"]]
        out = {k: _resolve(v, truth, params) for k, v in node.items()}
        return {k: v for k, v in out.items() if v is not _NO_VALUE}
    if isinstance(node, list):
        return [x for x in (_resolve(v, truth, params) for v in node) if x is not _NO_VALUE]
    return node


def resolve(parameters: dict) -> dict:
    """The transformed template as CloudFormation would create it with ``parameters``."""
    tpl = sam_transform(parameters)
    params = {name: str(spec.get("Default", "")) for name, spec in tpl["Parameters"].items()}
    params.update({k: str(v) for k, v in parameters.items()})
    truth = {name: _condition(expr, params, tpl["Conditions"]) for name, expr in tpl["Conditions"].items()}
    resources = {lid: _resolve(r, truth, params) for lid, r in tpl["Resources"].items()
                 if truth.get(r.get("Condition", ""), True)}
    outputs = {k: _resolve(o, truth, params) for k, o in tpl["Outputs"].items() if truth.get(o.get("Condition", ""), True)}
    return {"Resources": resources, "Outputs": outputs, "Parameters": tpl["Parameters"]}


def _public_invokes(res: dict) -> list[str]:
    return [lid for lid, r in res.items() if r["Type"] == "AWS::Lambda::Permission" and r["Properties"]["Principal"] == "*"]


@pytest.mark.parametrize("mode", ["token", "iam", "none"])
def test_each_auth_mode_transforms_and_lints_clean(mode):
    out = sam_transform({"AuthMode": mode, "EnableFunctionUrl": "true", "EnableBulk": "true"})
    problems = _problems(lint(json.dumps(out), config=ManualArgs(regions=REGIONS)))
    assert problems == [], "\n".join(problems)


def test_default_auth_mode_is_token_with_a_secret_read_at_init():
    params = load_source()["Parameters"]
    assert params["AuthMode"]["Default"] == "token" and sorted(params["AuthMode"]["AllowedValues"]) == ["iam", "none", "token"]
    out = resolve({})
    res = out["Resources"]
    secret = res["ApiTokenSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret" and secret["Properties"]["GenerateSecretString"]["PasswordLength"] >= 32
    env = res["OcrFunction"]["Properties"]["Environment"]["Variables"]
    assert env["OCR_API_TOKEN_SECRET"] == {"Ref": "ApiTokenSecret"}
    assert "OCR_API_TOKEN" not in env  # never the token itself in the configuration
    statements = res["OcrFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": {"Ref": "ApiTokenSecret"}} in statements
    assert res["OcrHttpApiRoute"]["Properties"]["AuthorizationType"] == "NONE"  # the app checks the token
    assert "ApiTokenSecretArn" in out["Outputs"]
    # the Function URL (which bypasses the HTTP API's throttling) is opt-in
    assert "OcrFunctionUrl" not in res and "FunctionUrl" not in out["Outputs"] and _public_invokes(res) == []


def test_iam_mode_signs_every_route_but_health():
    out = resolve({"AuthMode": "iam", "EnableFunctionUrl": "true"})
    res = out["Resources"]
    assert res["OcrHttpApiRoute"]["Properties"]["AuthorizationType"] == "AWS_IAM"
    health = res["OcrHttpApiHealthRoute"]["Properties"]
    assert (health["RouteKey"], health["AuthorizationType"]) == ("GET /healthz", "NONE")
    assert res["OcrFunctionUrl"]["Properties"]["AuthType"] == "AWS_IAM"
    assert _public_invokes(res) == []  # IAM principals need their own policy; nothing is public
    assert "ApiTokenSecret" not in res and "ApiTokenSecretArn" not in out["Outputs"]
    env = res["OcrFunction"]["Properties"]["Environment"]["Variables"]
    assert env["OCR_API_TOKEN_SECRET"] == ""
    statements = res["OcrFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert not any("secretsmanager" in json.dumps(s) for s in statements)


@pytest.mark.parametrize("mode", ["token", "none"])
def test_public_function_url_needs_both_permissions(mode):
    res = resolve({"AuthMode": mode, "EnableFunctionUrl": "true"})["Resources"]
    assert res["OcrFunctionUrl"]["Properties"]["AuthType"] == "NONE"
    assert res["OcrHttpApiRoute"]["Properties"]["AuthorizationType"] == "NONE"
    perms = {res[lid]["Properties"]["Action"]: res[lid]["Properties"] for lid in _public_invokes(res)}
    assert perms["lambda:InvokeFunctionUrl"]["FunctionUrlAuthType"] == "NONE"
    assert perms["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True  # not a public Invoke of the function
    assert ("ApiTokenSecret" in res) == (mode == "token")


@pytest.mark.parametrize("mode", ["token", "iam", "none"])
def test_presigned_uploads_only_for_authenticated_callers(mode):
    """A presigned URL can be PUT to again and again until it expires, each PUT billed by S3 and
    bounded by no cap of the template: a public API (AuthMode=none) hands out none."""
    env = resolve({"AuthMode": mode})["Resources"]["OcrFunction"]["Properties"]["Environment"]["Variables"]
    assert env["OCR_UPLOAD_BUCKET"] == ("" if mode == "none" else {"Ref": "UploadBucket"})


def test_spend_caps_have_safe_defaults():
    params = load_source()["Parameters"]
    res = resolve({})["Resources"]
    assert res["OcrFunction"]["Properties"]["ReservedConcurrentExecutions"] == str(params["ApiReservedConcurrency"]["Default"]) == "10"
    route = res["OcrHttpApiStage"]["Properties"]["DefaultRouteSettings"]
    assert (route["ThrottlingRateLimit"], route["ThrottlingBurstLimit"]) == ("5", "10")
    assert res["OcrHttpApiStage"]["Properties"]["StageName"] == "$default"
    assert "MonthlyBudget" not in res
    bulk = resolve({"EnableBulk": "true"})["Resources"]["OcrBulkFunctionUploads"]["Properties"]
    assert bulk["ScalingConfig"]["MaximumConcurrency"] == str(params["BulkMaxConcurrency"]["Default"]) == "10"
    # 0 = no reservation (accounts too small to reserve), chosen on purpose
    assert "ReservedConcurrentExecutions" not in resolve({"ApiReservedConcurrency": "0"})["Resources"]["OcrFunction"]["Properties"]
    budget = resolve({"MonthlyBudgetUsd": "25", "AlarmEmail": "ops@example.com"})["Resources"]["MonthlyBudget"]["Properties"]
    assert budget["Budget"]["BudgetLimit"]["Amount"] == "25"


def rule_failures(parameters: dict) -> list[str]:
    """The template's Rules as CloudFormation checks them before creating anything: the ids of the
    rules whose condition holds for ``parameters`` (defaults filled in) and whose assertion fails."""
    tpl = sam_transform(parameters)
    params = {name: str(spec.get("Default", "")) for name, spec in tpl["Parameters"].items()}
    params.update({k: str(v) for k, v in parameters.items()})
    failed = []
    for rid, rule in tpl.get("Rules", {}).items():
        if "RuleCondition" in rule and not _condition(rule["RuleCondition"], params, {}):
            continue
        if not all(_condition(a["Assert"], params, {}) for a in rule["Assertions"]):
            failed.append(rid)
    return failed


@pytest.mark.parametrize("mode", ["token", "iam", "none"])
@pytest.mark.parametrize("function_url", ["false", "true"])
def test_caps_hold_in_every_auth_mode(mode, function_url):
    """Whatever AuthMode and Function URL: reserved concurrency, stage throttling and the bulk
    path's MaximumConcurrency are in what CloudFormation would create, at their defaults."""
    params = load_source()["Parameters"]
    out = resolve({"AuthMode": mode, "EnableFunctionUrl": function_url, "EnableBulk": "true"})
    res = out["Resources"]
    assert res["OcrFunction"]["Properties"]["ReservedConcurrentExecutions"] == str(params["ApiReservedConcurrency"]["Default"])
    route = res["OcrHttpApiStage"]["Properties"]["DefaultRouteSettings"]
    assert (route["ThrottlingRateLimit"], route["ThrottlingBurstLimit"]) == (
        str(params["ApiThrottleRate"]["Default"]), str(params["ApiThrottleBurst"]["Default"]))
    esm = res["OcrBulkFunctionUploads"]["Properties"]["ScalingConfig"]
    assert esm["MaximumConcurrency"] == str(params["BulkMaxConcurrency"]["Default"])
    assert ("OcrFunctionUrl" in res) == (function_url == "true")
    assert rule_failures({"AuthMode": mode, "EnableFunctionUrl": function_url}) == []


def test_a_public_api_cannot_drop_the_concurrency_cap():
    """ApiReservedConcurrency=0 (no cap) is allowed for token and iam, refused for AuthMode=none."""
    assert rule_failures({"AuthMode": "none", "ApiReservedConcurrency": "0"}) == ["PublicApiIsCapped"]
    assert rule_failures({"AuthMode": "none", "ApiReservedConcurrency": "1"}) == []
    for mode in ("token", "iam"):
        assert rule_failures({"AuthMode": mode, "ApiReservedConcurrency": "0"}) == []
    assert rule_failures({}) == []


def test_uploads_bucket_is_private_and_expires_uploads():
    res = resolve({})["Resources"]
    bucket = res["UploadBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    rule = bucket["LifecycleConfiguration"]["Rules"][0]
    assert rule["Status"] == "Enabled" and rule["Prefix"] == "uploads/" and rule["ExpirationInDays"] <= 1
    statements = res["OcrFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    s3 = [s for s in statements if "s3:" in json.dumps(s)]
    assert s3 == [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": {"Fn::Sub": "${UploadBucket.Arn}/uploads/*"}}]
    assert int(load_source()["Parameters"]["UploadUrlExpiry"]["Default"]) <= 900


def test_sam_deploy_guided_never_asks_to_accept_an_unauthenticated_url():
    """`sam deploy --guided` asks "... has no authentication. Is this okay?" for a SAM function's
    Api/HttpApi event without Auth and for a FunctionUrlConfig with AuthType NONE (SAM CLI's
    samcli/commands/deploy/auth_utils.py). The template has neither: the HTTP API's routes and the
    Function URL are plain CloudFormation whose authorization follows AuthMode."""
    for lid, res in load_source()["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        props = res["Properties"]
        assert "FunctionUrlConfig" not in props, lid
        kinds = {e["Type"] for e in props.get("Events", {}).values()}
        assert not kinds & {"Api", "HttpApi"}, (lid, kinds)
    readme = (ROOT / "README.md").read_text()
    deploy = readme[readme.index("## Deploy on AWS"):readme.index("## Edge box")]
    assert "Is this okay" not in deploy and "answer" not in deploy.lower()


def test_worst_case_cost_in_the_docs_follows_the_template_defaults():
    """docs/deploy.md's worst case (and the README's figure) recomputed from the template's defaults
    and the prices the document states: a changed default or a wrong sum fails here."""
    params = {k: v.get("Default") for k, v in load_source()["Parameters"].items()}
    doc = (ROOT / "docs" / "deploy.md").read_text()
    readme = (ROOT / "README.md").read_text()
    month, gb_s, per_m_lambda, per_m_http, log_gb = 2_592_000, 0.0000133334, 0.20, 1.00, 0.50
    for price in ("$0.0000133334 per GB-second", "$0.20 per million requests", "HTTP API $1.00 per million",
                  "512 KB steps", "$0.50 per GB", "$0.40 per secret-month"):
        assert price in doc, price
    assert params["Architecture"] == "arm64"
    gb = int(params["MemorySize"]) / 1024
    duration = int(params["ApiReservedConcurrency"]) * month * gb * gb_s
    requests = int(params["ApiThrottleRate"]) * month
    steps = 20  # the HTTP API's 10 MB body in 512 KB steps
    http = requests * steps * per_m_http / 1e6
    lam = requests * per_m_lambda / 1e6
    logs = requests * 1000 / 1e9 * log_gb
    health = requests * (per_m_http + per_m_lambda) / 1e6 + requests * 300 / 1e9 * log_gb  # GET /healthz, own route
    total = duration + http + lam + logs + health + 0.40
    strangers = http + health + requests * 0.01 * gb * gb_s  # 10 MB refusals + /healthz invocations of ~10 ms
    assert f"{int(params['ApiReservedConcurrency'])} × 2,592,000 s × {gb} GB ({params['MemorySize']} MB)" in doc
    for figure in (f"${duration:,.2f}", f"${http:,.2f}", f"${lam:,.2f}", f"${logs:,.2f}", f"${health:,.2f}",
                   f"≈ ${total:,.0f}", f"≈ ${strangers:,.0f} a month"):
        assert figure in doc, figure
    assert f"about ${total:,.0f} a month" in readme and f"about ${strangers:,.0f}" in readme


# --------------------------------------------------------------------------- Dockerfile


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore rule: the last pattern matching the path or a parent decides."""
    from fnmatch import fnmatch

    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pat in patterns:
        neg = pat.startswith("!")
        pat = pat.lstrip("!").strip("/")
        if pat.startswith("**/"):
            hit = any(fnmatch(p.rsplit("/", 1)[-1], pat[3:]) for p in prefixes)
        else:
            hit = any(fnmatch(p, pat) for p in prefixes)
        if hit:
            ignored = not neg
    return ignored


def test_dockerfile_base_env_and_command():
    ins = _instructions()
    assert ins[0] == ("FROM", "public.ecr.aws/lambda/python:3.12")
    env = " ".join(rest for op, rest in ins if op == "ENV")
    assert "NUMBA_CPU_NAME=generic" in env and "NUMBA_CACHE_DIR=/opt/numba-cache" in env
    assert "OCR_MODEL_DIR=/opt/models" in env
    runs = " ".join(rest for op, rest in ins if op == "RUN")
    assert "build_numba_cache.py" in runs
    cmd = [rest for op, rest in ins if op == "CMD"]
    assert cmd and json.loads(cmd[-1]) == ["ocrservice.lambda_handler.handler"]


def test_dockerfile_copies_exist_and_are_in_the_build_context():
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    copies = [rest.split()[:-1] for op, rest in _instructions() if op == "COPY"]
    assert copies
    for sources in copies:
        for src in sources:
            path = ROOT / src
            if src.startswith("models/build"):
                assert (path / "small" / "build.json").is_file() or pytest.fail(
                    "models/build/ is missing: run `make setup` (python models/build.py) before `sam build`"
                )
            assert path.exists(), f"COPY {src}: no such path in the build context"
            assert not _ignored(src, patterns), f"COPY {src} is excluded by .dockerignore"
    assert _ignored(".venv/bin/python", patterns) and _ignored("models/.cache/x", patterns)


def test_dockerfile_dependency_line_reads_pyproject():
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("mangum") for d in deps) and any(d.startswith("onnxruntime") for d in deps)
    assert "['project']['dependencies']" in DOCKERFILE.read_text()
