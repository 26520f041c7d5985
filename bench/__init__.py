"""Benchmarks: our engine side by side with RapidOCR 3.10.0 and Tesseract 5, and the numba kernels vs numpy.

    python -m bench.run            # latency, cold start, peak RSS, stage breakdown -> reports/bench.json
    python -m bench.run --quick --no-rapidocr
    python -m bench.kernels        # each numba kernel against its numpy reference
    python -m bench.peers          # one table: ours (profiles x precisions) vs RapidOCR and
                                   # Tesseract 5: latency, images/min, cold start, RSS, accuracy

Figures and the commands that produced them: docs/performance.md.
"""
