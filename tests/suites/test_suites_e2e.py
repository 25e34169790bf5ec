"""The benchmark suites as a user runs them: without torch, and with a model server that is down."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_causal_eval.engine import free_port

ROOT = Path(__file__).resolve().parents[2]

HIDE_TORCH = '''
import importlib.abc
import sys


class _NoTorch(importlib.abc.MetaPathFinder):
    """This machine has no torch: importing it fails as if it were not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoTorch())
'''


def _copy_suite(pytester: pytest.Pytester, *names: str) -> None:
    """The repository's root conftest (suite parameters) and the named suites, as a project."""
    pytester.makeconftest((ROOT / "conftest.py").read_text(encoding="utf-8"))
    for name in names:
        (pytester.path / name).write_text((ROOT / "suites" / name).read_text(encoding="utf-8"))


def test_without_torch_the_torch_cases_skip_with_the_reason_and_the_rest_run(
    pytester: pytest.Pytester,
) -> None:
    _copy_suite(pytester, "test_models.py", "test_gpu.py")
    pytester.makepyfile(hide_torch=HIDE_TORCH)  # loaded first with -p, before anything imports torch
    result = pytester.runpytest_subprocess(
        "-p", "hide_torch", "-p", "no:cacheprovider", "-rs", "-k", "not http"
    )
    # oracle x 3 and replay x 3 run; torch random-init x 3, trained x 1 and the GPU cases x 4 skip
    result.assert_outcomes(passed=6, skipped=8, deselected=3)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED [[]3[]] test_models.py:3*: causal_engine(model='torch'*"
            "needs torch, which is not installed (pip install 'pytest-causal-eval[[]torch[]]')",
            "SKIPPED [[]1[]] test_models.py:*torch is not installed: the torch model cases need it",
            "SKIPPED [[]3[]] test_gpu.py:*gpu_env: torch is not installed",
            "SKIPPED [[]1[]] test_gpu.py:*gpu_env: torch is not installed",
        ]
    )


def test_a_model_server_that_is_down_fails_its_cases_and_the_rest_run(pytester: pytest.Pytester) -> None:
    port = free_port()  # nothing listens here
    pytester.makepyfile(
        f"""
        import pytest

        URL = "http://127.0.0.1:{port}/v1"

        @pytest.mark.causal_eval(max_time="20ms", min_rounds=2)
        @pytest.mark.causal_engine(task="association", batch_size=8)
        @pytest.mark.parametrize("model", ["oracle", "openai", "random"])
        def test_model(causal_engine, causal_bench, model):
            args = {{"base_url": URL, "model_name": "remote"}} if model == "openai" else {{}}
            engine = causal_engine(model, **args)
            assert engine.measure(causal_bench, 16).n == 16
        """
    )
    for flags in ((), ("--causal-eval", "--causal-eval-warmup", "off")):
        result = pytester.runpytest("-p", "no:cacheprovider", *flags)
        result.assert_outcomes(passed=2, failed=1)
        result.stdout.fnmatch_lines(
            [
                f"*causal_engine(model='openai', base_url='http*no model server answers at "
                f"http://127.0.0.1:{port}/v1 (ConnectionRefusedError*"
            ]
        )
