"""Benchmarks: each runs as a script (`.venv/bin/python bench/<name>.py`); a package so that
bench/demo.py and the demo app are distinct modules to mypy."""
