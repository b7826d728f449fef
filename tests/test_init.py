import subprocess
import sys

import helpers


def test_all_names_the_public_api_and_each_resolves() -> None:
    assert sorted(helpers.__all__) == sorted(helpers._HOMES)
    for name in helpers.__all__:
        assert getattr(helpers, name) is not None


def test_every_public_name_has_a_docstring() -> None:
    for name in helpers.__all__:
        assert getattr(helpers, name).__doc__, f"{name} has no docstring"


def test_unknown_names_raise_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = helpers.nope


def run_python(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout


def test_import_has_no_side_effects_on_matplotlib_or_tracing() -> None:
    out = run_python(
        "import matplotlib, helpers; from opentelemetry import trace; helpers.fire;"
        "print(type(trace.get_tracer_provider()).__name__, matplotlib.rcParams['figure.dpi'])"
    )
    assert out.split() == ["ProxyTracerProvider", "100.0"]


def test_importing_apps_alone_stays_light() -> None:
    out = run_python(
        "import sys, helpers.apps; print('pandas' in sys.modules, 'uvicorn' in sys.modules)"
    )
    assert out.split() == ["False", "False"]
