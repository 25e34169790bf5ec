"""Porting ``--benchmark-*`` options in pytest's config files, and the option mapping itself."""

from __future__ import annotations

import textwrap

import pytest

from pytest_causal_eval.porting import PortParseError, port_config
from pytest_causal_eval.porting.addopts import apply_arg_changes, map_args


def mapped(*args: str) -> list[str]:
    changes, _ = map_args(list(args))
    return apply_arg_changes(list(args), changes)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["--benchmark-min-rounds=20"], ["--causal-eval-min-rounds=20"]),
        (["--benchmark-min-rounds", "20"], ["--causal-eval-min-rounds", "20"]),
        (
            ["--benchmark-max-time=0.5", "--benchmark-min-time", "1e-5"],
            ["--causal-eval-max-time=0.5", "--causal-eval-min-time", "1e-5"],
        ),
        (["--benchmark-warmup"], ["--causal-eval-warmup=auto"]),
        (["--benchmark-warmup", "off", "-x"], ["--causal-eval-warmup=off", "-x"]),
        (["--benchmark-warmup", "-x"], ["--causal-eval-warmup=auto", "-x"]),
        (["--benchmark-disable-gc", "--benchmark-enable"], ["--causal-eval-disable-gc", "--causal-eval"]),
        (["--benchmark-disable", "--benchmark-save-data", "--benchmark-compare"], []),
        (["--benchmark-compare", "0001", "-ra"], ["-ra"]),
        (["--benchmark-json", "out.json"], ["--causal-eval-json", "out.json"]),
        (["--benchmark-cprofile=tottime"], ["--causal-eval-profile=cpu"]),
        (["--benchmark-compare-fail", "min:5%", "mean:10%"], ["--causal-eval-threshold=5%"]),
        (["--benchmark-compare-fail=mean:0.001"], []),
        (["--benchmark-sort=name", "--benchmark-columns", "min,max", "-q"], ["-q"]),
        (["--benchmark-autosave", "--benchmark-save=base"], []),
        (["-p", "no:cacheprovider", "--other"], ["-p", "no:cacheprovider", "--other"]),
    ],
)
def test_option_mapping(given: list[str], expected: list[str]) -> None:
    assert mapped(*given) == expected


def test_dropped_options_say_why_and_unknown_ones_are_left() -> None:
    args = ["--benchmark-autosave", "--benchmark-disable", "--benchmark-bogus", "--benchmark-warmup=maybe"]
    changes, messages = map_args(args)
    assert apply_arg_changes(args, changes) == ["--benchmark-bogus", "--benchmark-warmup=maybe"]
    said = [(m.index, m.ported, m.message.split(":")[0]) for m in messages]
    assert said == [
        (0, False, "--benchmark-autosave dropped"),
        (1, True, "--benchmark-disable dropped"),
        (2, False, "--benchmark-bogus is not a pytest-benchmark option we know"),
        (3, False, "--benchmark-warmup=maybe"),
    ]


def test_ini_multiline_addopts_keeps_comments_and_drops_whole_lines() -> None:
    text = textwrap.dedent(
        """\
        [pytest]
        # run benchmarks as tests by default
        addopts = -ra
            --benchmark-disable
            # timing
            --benchmark-min-rounds 20 --benchmark-sort=fullname
            --strict-markers --benchmark-warmup on
        testpaths = tests
        """
    )
    new, found = port_config("pytest.ini", "pytest.ini", text)
    assert new == textwrap.dedent(
        """\
        [pytest]
        # run benchmarks as tests by default
        addopts = -ra
            # timing
            --causal-eval-min-rounds 20
            --strict-markers --causal-eval-warmup=auto
        testpaths = tests
        """
    )
    assert [(f.line, f.ported) for f in found] == [(4, True), (6, False)]
    assert port_config("pytest.ini", "pytest.ini", new) == (new, [])


def test_setup_cfg_ports_only_its_pytest_section_and_reports_commands_elsewhere() -> None:
    text = textwrap.dedent(
        """\
        [metadata]
        name = x

        [tool:pytest]
        addopts = --benchmark-disable-gc

        [tox:tox]
        commands = pytest --benchmark-only --benchmark-json=out.json
        """
    )
    new, found = port_config("setup.cfg", "setup.cfg", text)
    assert "addopts = --causal-eval-disable-gc\n" in new
    assert "commands = pytest --benchmark-only --benchmark-json=out.json" in new
    assert [f.format() for f in found] == [
        "setup.cfg:8: not ported: --benchmark-json outside a pytest addopts (a tox command?): map it by hand",
        "setup.cfg:8: not ported: --benchmark-only outside a pytest addopts (a tox command?): map it by hand",
    ]


def test_an_addopts_that_only_held_benchmark_options_becomes_empty() -> None:
    new, _ = port_config("tox.ini", "tox.ini", "[pytest]\naddopts = --benchmark-disable\n")
    assert new == "[pytest]\naddopts =\n"


def test_pyproject_string_and_array_forms() -> None:
    text = textwrap.dedent(
        """\
        [project]
        name = "x"  # --benchmark-disable in a comment is not an option

        [tool.pytest.ini_options]
        addopts = "-ra --benchmark-disable --benchmark-max-time=2"
        filterwarnings = [
            "error",
            "ignore::pytest_benchmark.logger.PytestBenchmarkWarning",
        ]
        """
    )
    new, found = port_config("pyproject.toml", "pyproject.toml", text)
    assert 'addopts = "-ra --causal-eval-max-time=2"\n' in new
    assert [(f.line, f.ported) for f in found] == [(5, True), (8, False)]
    array = textwrap.dedent(
        """\
        [tool.pytest.ini_options]
        addopts = ['-ra', '--benchmark-disable',  # off by default
                   '--benchmark-min-rounds', '7',
                   '--benchmark-sort=name']
        """
    )
    new, _ = port_config("pyproject.toml", "pyproject.toml", array)
    assert new == textwrap.dedent(
        """\
        [tool.pytest.ini_options]
        addopts = ['-ra',  # off by default
                   '--causal-eval-min-rounds', '7',
                   ]
        """
    )


def test_toml_native_table_multiline_string_and_pytest_toml() -> None:
    text = 'x = 1\n\n[tool.pytest]\naddopts = """\n--benchmark-skip\n-ra --benchmark-enable\n"""\n'
    new, found = port_config("pyproject.toml", "pyproject.toml", text)
    assert new == 'x = 1\n\n[tool.pytest]\naddopts = """\n-ra --causal-eval\n"""\n'
    assert [f.line for f in found] == [5, 6]
    new, _ = port_config("pytest.toml", "pytest.toml", '[pytest]\naddopts = ["--benchmark-disable-gc"]\n')
    assert new == '[pytest]\naddopts = ["--causal-eval-disable-gc"]\n'


def test_a_toml_value_the_port_cannot_edit_is_reported_and_left() -> None:
    text = '[tool.pytest.ini_options]\naddopts = "--benchmark-json=a\\\\b.json"\n'
    new, found = port_config("pyproject.toml", "pyproject.toml", text)
    assert new == text
    assert [f.format() for f in found] == [
        "pyproject.toml:2: not ported: addopts is written in a form the port cannot edit"
    ]


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("pyproject.toml", "[tool.pytest.ini_options]\naddopts = [\n", 3),
        ("pytest.ini", "[pytest]\n  continuation without a key\n", 2),
        ("setup.cfg", "addopts = x\n", 1),
    ],
)
def test_a_config_that_does_not_parse_raises_with_its_line(name: str, text: str, line: int) -> None:
    with pytest.raises(PortParseError) as info:
        port_config(name, name, text)
    assert info.value.path == name
    assert info.value.line == line
