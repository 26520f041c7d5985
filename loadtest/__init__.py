"""Load and soak tests for the HTTP service, and the gate that `make loadtest` enforces.

    make loadtest                      # 60 s, 2 users, small profile, the default gate
    make soak                          # several minutes, also fails when the server's RSS keeps growing
    .venv/bin/python -m loadtest.run --help

``run.py`` starts the real server (``python -m handler.serve``) on 127.0.0.1, spawns locust as a
separate process (``loadtest/locustfile.py``; locust's gevent monkey-patching never enters this
process), reads the final figures from locust's JSON report and applies :func:`loadtest.run.evaluate`.
``samples.py`` writes the images that are posted. ``infra/edge/measure.py`` holds the edge-box
measurement.
"""
