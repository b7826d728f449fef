import types

import helpers


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(helpers).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(helpers.__all__) - {"apps"} == public
    assert all(hasattr(helpers, name) for name in helpers.__all__)


def test_every_public_name_has_a_docstring() -> None:
    for name in helpers.__all__:
        assert getattr(helpers, name).__doc__, f"{name} has no docstring"


def test_import_has_no_side_effects_on_matplotlib_or_tracing() -> None:
    import subprocess
    import sys

    code = (
        "import matplotlib, helpers; from opentelemetry import trace;"
        "print(type(trace.get_tracer_provider()).__name__, matplotlib.rcParams['figure.dpi'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["ProxyTracerProvider", "100.0"]
