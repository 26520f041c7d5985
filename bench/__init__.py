"""Benchmarks: our engine against RapidOCR 3.10 and Tesseract 5, and the numba kernel against numpy.

    python -m bench.peers            # one table: latency, images/min, cold start, peak RSS, accuracy
    python -m bench.peers --quick    # seconds to a minute (the test suite runs a variant of it)
    python -m bench.kernels          # each numba kernel against its numpy reference

Method, flags and report contents: docs/benchmarks.md.
"""
