import helpers


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in dir(helpers) if not name.startswith("_")}
    modules = {"apps", "config", "load", "plots", "probes", "run", "server", "stats",
               "trace_export", "tracing", "transport"}  # fmt: skip
    assert set(helpers.__all__) == public - (modules - {"apps"})


def test_every_public_name_has_a_docstring() -> None:
    for name in helpers.__all__:
        assert getattr(helpers, name).__doc__, f"{name} has no docstring"
