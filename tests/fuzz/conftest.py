"""tests/fuzz: the replay of the fuzzing corpora and regression inputs (see README.md)."""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "fuzz_brief: a bounded libFuzzer run of every C target; runs only where clang and "
        "libFuzzer are installed (tests/fuzz/run_brief.sh does the same by hand)",
    )
