"""The model build: pinned checksums are enforced, dictionaries match the networks, ship map honoured."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import onnx
import pytest

from ocrcore.models import profile_files
from ocrcore.recognize import load_charset

from .helpers import ROOT

sys.path.insert(0, str(ROOT / "models"))
import build as model_build

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
def test_auto_picks_only_precisions_the_manifest_allows(profile: str) -> None:
    """build.json carries the manifest's eligible precisions; whatever ``auto`` picks on this
    host (measured: any CPU may pick either) is one of them, and fp32 is honoured everywhere."""
    info = json.loads((ROOT / "models" / "build" / profile / "build.json").read_text())
    files = profile_files(profile)
    for name, spec in MANIFEST["profiles"][profile].items():
        allowed = [p for p in spec["auto"] if p == "fp32" or spec.get("quantize")]
        assert info["auto"][name] == allowed
        if name == "doc_det":  # the clean-page detector: FP32 only, not chosen per host
            assert allowed == ["fp32"]
            continue
        assert files.precisions[name] in allowed
        assert files.choice.reasons[name]
    assert profile_files(profile, "fp32").precisions == {"det": "fp32", "rec": "fp32", "cls": "fp32"}
    has_doc_det = "doc_det" in MANIFEST["profiles"][profile]
    assert (files.doc_det is not None) == has_doc_det == (profile == "small")
    assert files.doc_det is None or (files.doc_det.name == "doc_det.fp32.onnx" and files.doc_det.exists())


def test_only_models_with_an_int8_variant_in_the_manifest_have_one_built() -> None:
    for profile, models in MANIFEST["profiles"].items():
        for name, spec in models.items():
            assert (ROOT / "models" / "build" / profile / f"{name}.int8.onnx").exists() == bool(spec.get("quantize"))


def test_converted_models_are_opset_13_and_int8_models_are_qdq() -> None:
    files = profile_files("small", "int8")
    assert files.precisions == {"det": "fp32", "rec": "int8", "cls": "fp32"}  # det int8 is not built
    for path in (files.det, files.rec):
        model = onnx.load(str(path), load_external_data=False)
        assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 13
    rec = onnx.load(str(files.rec), load_external_data=False)
    assert any(n.op_type == "QuantizeLinear" for n in rec.graph.node)


def test_float_weights_have_no_subnormals() -> None:
    """Subnormal weights cost Intel cores a microcode assist per multiply (the small detector
    ran 3x slower); the build flushes them."""
    import numpy as np
    from onnx import numpy_helper

    for path in sorted((ROOT / "models" / "build").glob("*/*.onnx")):
        model = onnx.load(str(path))
        for init in model.graph.initializer:
            if init.data_type == onnx.TensorProto.FLOAT:
                a = numpy_helper.to_array(init)
                assert not ((a != 0) & (np.abs(a) < np.finfo(np.float32).tiny)).any(), (path.name, init.name)


def test_flush_subnormal_weights_zeroes_only_subnormals() -> None:
    import numpy as np
    from onnx import helper, numpy_helper

    w = np.array([1e-40, -1e-39, 1e-30, 0.5, 0.0, -2.0], dtype=np.float32)
    graph = helper.make_graph([], "g", [], [], initializer=[numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph)
    assert model_build.flush_subnormal_weights(model) == 2
    np.testing.assert_array_equal(numpy_helper.to_array(model.graph.initializer[0]),
                                  np.array([0, 0, 1e-30, 0.5, 0, -2.0], dtype=np.float32))


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
    changed["profiles"]["tiny"]["det"]["auto"] = ["fp32", "int8"]
    assert model_build.stamp_key(changed, ["small", "tiny"]) != stamp


def test_int8_models_not_listed_as_full_range_have_7_bit_weights() -> None:
    """7-bit weights keep AVX2's u8 x s8 pair sums (vpmaddubsw) below 2^15: exact on every x86
    CPU, so such a model is eligible for ``auto`` everywhere (ocrcore.precision)."""
    import numpy as np
    from onnx import numpy_helper

    for info_path in sorted((ROOT / "models" / "build").glob("*/build.json")):
        info = json.loads(info_path.read_text())
        for int8 in sorted(info_path.parent.glob("*.int8.onnx")):
            if int8.name.split(".")[0] in info["int8_full_range"]:
                continue
            model = onnx.load(str(int8))
            weights = [numpy_helper.to_array(i) for i in model.graph.initializer if i.data_type == onnx.TensorProto.INT8]
            assert weights, int8
            assert max(int(np.abs(w.astype(np.int32)).max()) for w in weights) <= 64, int8


@pytest.mark.parametrize("variant", ["small/rec.fp32", "small/rec.int8", "tiny/rec.fp32"])
def test_greedy_outputs_are_the_argmax_and_max_of_the_probabilities(variant: str) -> None:
    """The build's greedy head (one TopK over the softmax, the class head's bias fused into a
    Gemm) gives exactly numpy's argmax (first index on ties) and max of the full output."""
    import numpy as np

    from ocrcore.runtime import make_session

    path = ROOT / "models" / "build" / f"{variant}.onnx"
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert "Gemm" in ops and "TopK" in ops and "ArgMax" not in ops, "the head was not rebuilt: make setup"
    session = make_session(path, 1)
    name, probs_out = session.get_inputs()[0].name, session.get_outputs()[0].name
    rng = np.random.default_rng(0)
    for shape in [(1, 3, 48, 192), (3, 3, 48, 512)]:
        x = rng.standard_normal(shape).astype(np.float32) * 0.6
        probs, best, best_p = session.run([probs_out, "ctc_best", "ctc_best_prob"], {name: x})
        assert best.shape == best_p.shape == probs.shape[:2]
        np.testing.assert_array_equal(best, probs.argmax(axis=-1))
        np.testing.assert_array_equal(best_p, probs.max(axis=-1))


def test_head_fusion_leaves_graphs_of_another_shape_alone() -> None:
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8])
    graph = helper.make_graph([helper.make_node("Softmax", ["x"], ["y"], axis=-1)], "g", [x], [y])
    assert model_build.fuse_head_bias(graph, "y") is False
    assert [n.op_type for n in graph.node] == ["Softmax"]
