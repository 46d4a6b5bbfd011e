"""Rule unit tests: YAML files of input series and expected alerts, run against a throwaway store.

- :mod:`.notation`: the compact notation of values over time (``0+10x60``, ``1 2 _ 4``, ``stale``);
- :mod:`.spec`: reading a test file, with the line of every problem;
- :mod:`.isolation`: the empty, isolated store the tests run in (docs/rules.md, "Rule tests");
- :mod:`.runner`: the evaluation cycles and the lifecycle over that store, and the diffs.
"""
