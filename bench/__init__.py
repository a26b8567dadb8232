"""`make bench`: a large synthetic clinic (``bench.seed``) and timings of the app's pages against it
(``bench.harness``), printed as a table and written to ``bench/results.jsonl``.

SQLite only, by design: the benchmark measures the embedded default deployment on this machine, in its own files
under ``bench/.data/`` (never ``instance/tracker.sqlite`` or a test database).
"""
