"""The summary table fits the terminal and keeps the informative end of long ids."""

from __future__ import annotations

import pytest

from pytest_causal_eval.report.terminal import common_prefix, render_table, shorten
from pytest_causal_eval.report.units import format_bytes, format_rate, format_seconds
from pytest_causal_eval.results import Measurement, Metric

pytest_plugins = ["pytester"]


def make(mid: str, median: float, **metrics: float) -> Measurement:
    m = Measurement(id=mid, test_id=mid, samples=[median * 0.9, median, median * 1.1], iterations=10)
    for name, value in metrics.items():
        m.add_metric(Metric(name, value, unit="", better="higher"))
    return m


def test_shorten_keeps_the_end() -> None:
    text = "suites/test_engine_throughput.py::test_evaluate[oracle-association-256-thread]"
    short = shorten(text, 40)
    assert len(short) == 40
    assert short.endswith("association-256-thread]")
    assert "…" in short
    assert shorten("abc", 10) == "abc"
    assert shorten("abcdef", 2) == "ef"


def test_common_prefix_cuts_at_boundaries() -> None:
    assert common_prefix(["suites/a.py::t1", "suites/a.py::t2"]) == "suites/a.py::"
    assert common_prefix(["suites/a.py::t", "suites/b.py::t"]) == "suites/"
    assert common_prefix(["x.py::t", "y.py::t"]) == ""
    assert common_prefix(["t1", "t3"]) == ""
    assert common_prefix(["suites/a.py::t1"]) == "suites/a.py::"


@pytest.mark.parametrize("width", [80, 100, 60])
def test_table_fits_width(width: int) -> None:
    rows = [
        make(
            "suites/test_engine.py::test_evaluate[oracle-association-256-thread-with-a-long-tail]",
            1.2e-3,
            accuracy=0.9876,
        ),
        make("suites/test_engine.py::test_generate[counterfactual]", 3.4e-6),
        make("suites/test_engine.py::test_generate[x]::tokenize", 5.0e-9),
    ]
    lines = render_table(rows, width=width)
    assert lines[0].startswith("causal-eval: 3 measurements (in suites/test_engine.py")
    assert all(len(line) <= width for line in lines), "\n".join(lines)
    body = "\n".join(lines)
    assert "1.20 ms" in body and "3.40 us" in body and "5.00 ns" in body
    if width >= 80:
        assert "accuracy=0.988" in body
    assert "long-tail]" in body.replace("\n", "")  # wrapped onto lines of its own when it must, never cut
    assert "…" not in body


def test_units() -> None:
    assert format_seconds(0.0123) == "12.3 ms"
    assert format_seconds(2.0) == "2.00 s"
    assert format_seconds(0.00099999) == "1.00 ms"
    assert format_bytes(3 * 1024**2) == "3.00 MiB"
    assert format_rate(12_345.0) == "12.3k/s"


def test_terminal_table_in_a_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_long_module_name_for_table="""
        import pytest

        @pytest.mark.parametrize("case", ["a" * 70, "b"])
        def test_case(causal_bench, case):
            causal_bench(len, case)
        """
    )
    result = pytester.runpytest("--causal-eval", "--causal-eval-max-time=10ms", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    lines = result.stdout.lines
    start = lines.index(next(line for line in lines if line.startswith("causal-eval: 2 measurements")))
    # The table ends where the next note or the session's last line starts (a note on few rounds
    # follows it when the loaded machine stopped a case at its 10 ms budget).
    table = [lines[start]]
    for line in lines[start + 1 : start + 9]:
        if line.startswith(("causal-eval:", "=")):
            break
        table.append(line)
    assert all(len(line) <= 80 for line in table), "\n".join(table)
    assert any(line.startswith("test_case[b]") for line in table)
    assert "test_case[" + "a" * 70 + "]" in "".join(table)  # the long name whole, wrapped
