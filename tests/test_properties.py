"""Property-based: any invalid argument to fire/serve/plots gives a clear ValueError or
TypeError naming the argument, never a deep library traceback or a hang."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import Server, fire, plot_timeline, serve
from tests.test_run import make_run

FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def fire_error(server: Server, **kwargs: Any) -> BaseException | None:
    arguments: dict[str, Any] = {"path": "/health_async", "n": 1, "progress": False}
    arguments.update(kwargs)
    try:
        asyncio.run(asyncio.wait_for(fire(server, **arguments), 10))
    except (ValueError, TypeError) as exc:
        return exc
    return None


@FAST
@given(n=anything)
def test_any_bad_n_is_named(demo: Server, n: Any) -> None:
    valid = isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 20_000
    if valid:
        n = 1
    error = fire_error(demo, n=n)
    assert (error is None) == valid
    if error is not None:
        assert "n must be" in str(error)


@FAST
@given(timeout=anything)
def test_any_bad_timeout_is_named(demo: Server, timeout: Any) -> None:
    error = fire_error(demo, timeout=timeout)
    numeric = isinstance(timeout, (int, float)) and not isinstance(timeout, bool)
    valid = numeric and timeout > 0 and timeout < float("inf")
    assert (error is None) == valid
    if error is not None:
        assert "timeout must be" in str(error)


@FAST
@given(concurrency=anything)
def test_any_bad_concurrency_is_named(demo: Server, concurrency: Any) -> None:
    error = fire_error(demo, concurrency=concurrency)
    valid = concurrency is None or (
        isinstance(concurrency, int) and not isinstance(concurrency, bool) and concurrency >= 1
    )
    assert (error is None) == valid
    if error is not None:
        assert "concurrency must be" in str(error)


@FAST
@given(path=st.one_of(anything, st.text(max_size=10)))
def test_any_path_not_starting_with_slash_is_refused(demo: Server, path: Any) -> None:
    error = fire_error(demo, path=path)
    if isinstance(path, str) and path.startswith("/"):
        # accepted, or refused by name when it holds characters no URL path may contain
        assert error is None or "is not a valid URL path" in str(error)
    else:
        assert error is not None and "path must" in str(error)


@settings(max_examples=30, deadline=None)
@given(thread_limit=anything)
def test_any_bad_thread_limit_is_named(thread_limit: Any) -> None:
    from fastapi import FastAPI

    valid = isinstance(thread_limit, int) and not isinstance(thread_limit, bool)
    valid = valid and 1 <= thread_limit <= 10_000
    if valid or thread_limit is None:
        return  # starting real servers here would only repeat test_server.py
    with pytest.raises((ValueError, TypeError), match="thread_limit must"):
        serve(FastAPI(title="prop"), thread_limit=thread_limit)


@settings(max_examples=30, deadline=None)
@given(host=st.one_of(st.text(max_size=15), st.ip_addresses().map(str)))
def test_any_non_loopback_host_is_refused(host: str) -> None:
    import ipaddress

    from fastapi import FastAPI

    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return
    with pytest.raises(ValueError, match="host"):
        serve(FastAPI(title="prop-host"), host=host)


@settings(max_examples=30, deadline=None)
@given(by=anything)
def test_any_bad_timeline_grouping_is_named(by: Any) -> None:
    if by in ("request", "thread"):
        return
    with pytest.raises(ValueError, match="by must be one of"):
        plot_timeline(make_run(), by=by)


@FAST
@given(params=anything)
def test_any_bad_params_is_named(demo: Server, params: Any) -> None:
    error = fire_error(demo, params=params)
    valid = params is None or isinstance(params, dict)
    assert (error is None) == valid
    if error is not None:
        assert "params must be" in str(error)


@FAST
@given(params=st.one_of(st.integers(), st.text(max_size=4), st.lists(st.integers(), max_size=2)))
def test_a_params_function_returning_no_mapping_is_named(demo: Server, params: Any) -> None:
    error = fire_error(demo, params=lambda index: params)
    assert error is not None and "params(0) must return a mapping" in str(error)


@FAST
@given(json=st.one_of(anything, st.sets(st.integers(), max_size=2), st.builds(object)))
def test_any_json_body_that_cannot_be_encoded_is_named(demo: Server, json: Any) -> None:
    import json as jsonlib

    def encodable(value: Any) -> bool:
        try:
            jsonlib.dumps(value)
        except (TypeError, ValueError):
            return False
        return True

    error = fire_error(demo, json=json, method="POST")
    if encodable(json):
        assert error is None
    else:
        assert error is not None and "json must be JSON-serializable" in str(error)


@FAST
@given(method=st.one_of(anything, st.sampled_from(["get", "POST", "Delete", "TRACE", "FETCH"])))
def test_any_unknown_method_is_named(demo: Server, method: Any) -> None:
    error = fire_error(demo, method=method)
    known = isinstance(method, str) and method.upper() in (
        "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
    )  # fmt: skip
    assert (error is None) == known
    if error is not None:
        assert "method must be one of" in str(error)


@settings(max_examples=40, deadline=None)
@given(titles=st.one_of(anything, st.lists(anything, max_size=3)))
def test_any_bad_compare_titles_are_named(titles: Any) -> None:
    from helpers import compare

    runs = (make_run(), make_run())
    good = isinstance(titles, list) and len(titles) == 2 and all(isinstance(t, str) for t in titles)
    if good or titles is None:
        return  # drawing real figures here would only repeat test_plots.py
    with pytest.raises((ValueError, TypeError), match="titles"):
        compare(*runs, titles=titles)


@settings(max_examples=30, deadline=None)
@given(trace=anything)
def test_any_bad_trace_flag_is_named(trace: Any) -> None:
    from fastapi import FastAPI

    if isinstance(trace, bool):
        return  # starting real servers here would only repeat test_server.py
    with pytest.raises(TypeError, match="trace must be True or False"):
        serve(FastAPI(title="prop-trace"), trace=trace)
