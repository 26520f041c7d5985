"""Load and soak tests for the HTTP service, and the gate that `make loadtest` enforces.

    make loadtest                      # 60 s, 2 users, small profile, the default gate
    make soak                          # 10,000 requests, also fails when the server's RSS keeps growing
    .venv/bin/python -m loadtest.run --help

``run.py`` starts the real server (``server.py``, shared with the test fixtures), spawns locust as a
separate process (``locustfile.py``; gevent's monkey-patching never enters this process), which
decides the traffic gate from its own statistics (``gate.py``); run.py adds the memory checks.
``samples.py`` writes the images that are posted. ``infra/edge/measure.py`` holds the edge-box
measurement.
"""
