"""The ``causal_engine`` fixture as a suite author meets it, through pytester runs."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import psutil
import pytest

from pytest_causal_eval.engine import free_port

NO_CACHE = ("-p", "no:cacheprovider")


def _refuses(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_factory_shares_handles_models_and_nothing_else(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        SEEN = []

        def test_first(causal_engine):
            a = causal_engine("oracle", task="association", batch_size=8)
            assert causal_engine("oracle", task="association", batch_size=8) is a
            b = causal_engine("oracle", task="association", batch_size=16)
            assert b is not a and b.batch_size == 16 and a.batch_size == 8
            assert b.model is a.model  # one model per (name, model args)
            c = causal_engine("random", task="association", seed=1)
            d = causal_engine("random", task="association", seed=2)
            assert c.model is not d.model and c.model.seed == 1 and d.model.seed == 2
            SEEN.append(a)

        def test_second(causal_engine):
            assert causal_engine("oracle", task="association", batch_size=8) is SEEN[0]

        def test_defaults(causal_engine):
            engine = causal_engine()
            assert engine.model_name == "oracle" and engine.batch_size == 32 and engine.cache is None
            assert engine.evaluator.executor_name == "serial" and engine.server is None
            result = engine.run(10, task="intervention")
            assert result.n == 10 and result.accuracy == 1.0
        """
    )
    pytester.runpytest(*NO_CACHE).assert_outcomes(passed=3)


def test_marker_sets_defaults_and_the_call_overrides_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.causal_engine(task="association", batch_size=4)

        @pytest.mark.causal_engine(model="constant", answer="no", executor="thread", workers=2)
        def test_marker(causal_engine):
            engine = causal_engine()
            assert engine.model_name == "constant" and engine.model.answer == "no"
            assert engine.batch_size == 4 and engine.task == "association"  # from the module marker
            assert engine.evaluator.executor_name == "thread" and engine.evaluator.workers == 2
            assert causal_engine(batch_size=2).batch_size == 2
            assert causal_engine(answer="yes").model.answer == "yes"
            # another model: the marker's model arguments (answer=) are not passed to it
            other = causal_engine("oracle", executor="serial", workers=None)
            assert other.model_name == "oracle" and other.run(8).accuracy == 1.0

        @pytest.mark.causal_engine("oracle")
        def test_positional(causal_engine):
            causal_engine()

        @pytest.mark.causal_eval(threads=1)
        def test_cpu_env_from_marker(causal_engine, request):
            from pytest_causal_eval.environment.keys import CPU_ENV_KEY

            causal_engine()
            assert CPU_ENV_KEY in request.node.stash
        """
    )
    result = pytester.runpytest(*NO_CACHE)
    result.assert_outcomes(passed=2, errors=1)  # a bad marker is a setup error of its test
    result.stdout.fnmatch_lines(
        ["*@pytest.mark.causal_engine takes keyword arguments only, got ('oracle',)*"]
    )


def test_mistakes_fail_their_test_with_a_clear_message_and_the_rest_run(pytester: pytest.Pytester) -> None:
    closed = free_port()
    pytester.makepyfile(
        f"""
        def test_unknown_model(causal_engine):
            causal_engine("nope", task="association")

        def test_bad_model_option(causal_engine):
            causal_engine("constant", colour="red")

        def test_unknown_executor(causal_engine):
            causal_engine("oracle", executor="warp")

        def test_bad_cache(causal_engine):
            causal_engine("oracle", cache="floppy")

        def test_bad_batch_size(causal_engine):
            causal_engine("oracle", batch_size="32")

        def test_no_task(causal_engine):
            causal_engine("oracle").run(5)

        def test_server_not_up(causal_engine):
            engine = causal_engine(
                "openai", task="association", base_url="http://127.0.0.1:{closed}/v1", model_name="m"
            )
            engine.run(5)

        def test_fine(causal_engine):
            assert causal_engine("oracle", task="confounding").run(20).accuracy == 1.0
        """
    )
    result = pytester.runpytest(*NO_CACHE)
    result.assert_outcomes(passed=1, failed=7)
    result.stdout.fnmatch_lines_random(
        [
            "*causal_engine(model='nope'): unknown model 'nope'; valid models: *oracle*",
            "*causal_engine(model='constant', colour='red'): bad options for model 'constant'*colour*",
            "*causal_engine(model='oracle'): unknown executor 'warp'; valid executors: *serial*",
            "*causal_engine(cache='floppy'): expected False, True, 'memory', 'disk' or a redis:// URL*",
            "*causal_engine(model='oracle'): no task to draw questions from*",
            "*causal_engine(batch_size=...): expected a positive integer, got '32'",
            f"*no model server answers at http://127.0.0.1:{closed}/v1 (ConnectionRefusedError*"
            "use model='http:NAME'*",
        ]
    )
    assert "Traceback" not in result.stdout.str()  # one-line failures, no engine internals
    assert "pytest_causal_eval/engine/" not in result.stdout.str()


def test_credentials_in_urls_stay_out_of_failure_messages(pytester: pytest.Pytester) -> None:
    """A ``user:password@`` in a model's base_url or a Redis cache URL never reaches the report."""
    closed = free_port()
    pytester.makepyfile(
        f"""
        def test_model_server_down(causal_engine):
            causal_engine(
                "openai", task="association", base_url="http://alice:s3cretpass@127.0.0.1:{closed}/v1",
                model_name="m",
            )

        def test_bad_model_option(causal_engine):
            causal_engine("openai", base_url="http://alice:s3cretpass@127.0.0.1:{closed}/v1", colour="red")

        def test_cache_down(causal_engine):
            causal_engine("oracle", cache="redis://:s3cretpass@127.0.0.1:{closed}/0")
        """
    )
    result = pytester.runpytest(*NO_CACHE)
    result.assert_outcomes(failed=3)
    hidden = "[*][*][*]@127.0.0.1"  # fnmatch: a literal ***
    result.stdout.fnmatch_lines_random(
        [
            f"*base_url='http://{hidden}:{closed}/v1'*no model server answers at "
            f"http://{hidden}:{closed}/v1 (ConnectionRefusedError*",
            f"*base_url='http://{hidden}:{closed}/v1', colour='red'): bad options for model 'openai'*",
            f"*causal_engine(cache='redis://{hidden}:{closed}/0'): redis cache*does not answer*",
        ]
    )
    assert "s3cretpass" not in result.stdout.str() and "alice" not in result.stdout.str()


def test_http_server_starts_once_per_session_and_stops_at_the_end(pytester: pytest.Pytester) -> None:
    log = pytester.path / "servers.jsonl"
    pytester.makepyfile(
        f"""
        import json, psutil, pytest

        def _log(engine):
            port = engine.server.port
            listening = psutil.net_connections("tcp")
            (pid,) = {{c.pid for c in listening if c.laddr.port == port and c.status == "LISTEN"}}
            with open({str(log)!r}, "a") as out:
                out.write(json.dumps({{"pid": pid, "port": port}}) + "\\n")

        @pytest.mark.parametrize("batch_size", [1, 16])
        def test_oracle(causal_engine, batch_size):
            engine = causal_engine("http:oracle", task="association", batch_size=batch_size, n=40)
            assert engine.run(40).accuracy == 1.0
            _log(engine)

        def test_http_flag(causal_engine):
            engine = causal_engine("oracle", http=True, task="association", n=40, executor="async", workers=8)
            assert engine.model.name == "openai" and engine.run(40).accuracy == 1.0
            _log(engine)

        def test_other_args_other_server(causal_engine):
            engine = causal_engine("http:constant", task="association", answer="no")
            assert engine.run(10).n == 10
            _log(engine)
        """
    )
    pytester.runpytest(*NO_CACHE).assert_outcomes(passed=4)
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    oracle, constant = seen[:3], seen[3]
    assert len({(s["pid"], s["port"]) for s in oracle}) == 1  # one server for the equal requests
    assert constant["pid"] != oracle[0]["pid"]
    for server in (oracle[0], constant):  # stopped when the session ended
        assert not psutil.pid_exists(server["pid"]) or psutil.Process(server["pid"]).status() == "zombie"
        assert _refuses(server["port"])


def test_served_oracle_needs_a_task(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_no_task(causal_engine):
            causal_engine("http:oracle")
        """
    )
    result = pytester.runpytest(*NO_CACHE)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*causal_engine(model='http:oracle'): the served oracle*needs the task*"])


CACHE_TESTS = """
import pytest

@pytest.mark.causal_engine(task="association", cache=True)
def test_cold(causal_engine):
    engine = causal_engine("spin", work=1)
    result = engine.run(30)
    assert result.cache_misses == 30 and result.cache_hits == 0
    print("CACHE_DIR", engine.cache_dir)

@pytest.mark.causal_engine(task="association", cache="disk")
def test_warm(causal_engine):
    result = causal_engine("spin", work=1).run(30)
    assert result.cache_hits == 30  # the session's cache, shared by handles

def test_off_by_default(causal_engine):
    engine = causal_engine("spin", task="association", work=1)
    assert engine.cache is None and engine.cache_dir is None

def test_memory(causal_engine):
    engine = causal_engine("spin", task="association", work=1, cache="memory")
    engine.run(10)
    assert engine.run(10).cache_hits == 10 and engine.cache_dir is None
"""


def test_disk_cache_lives_in_the_session_tmp_dir_without_the_cacheprovider(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(CACHE_TESTS)
    basetemp = pytester.path / "basetemp"
    result = pytester.runpytest(*NO_CACHE, "-s", f"--basetemp={basetemp}")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([f"*CACHE_DIR {basetemp / 'causal-eval-responses'}"])
    assert list((basetemp / "causal-eval-responses").iterdir())  # the SQLite file
    assert not (pytester.path / ".pytest_cache").exists()


def test_disk_cache_lives_in_the_pytest_cache_with_the_cacheprovider(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(CACHE_TESTS)
    result = pytester.runpytest("-s", "-p", "cacheprovider")
    result.assert_outcomes(passed=4)
    where = pytester.path / ".pytest_cache" / "d" / "causal-eval-responses"
    result.stdout.fnmatch_lines([f"*CACHE_DIR {where}"])
    assert list(where.iterdir())


def test_no_cache_writes_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_plain(causal_engine):
            assert causal_engine("oracle", task="association").run(10).accuracy == 1.0
        """
    )
    basetemp = pytester.path / "basetemp"
    pytester.runpytest("-p", "cacheprovider", f"--basetemp={basetemp}").assert_outcomes(passed=1)
    assert not (pytester.path / ".pytest_cache" / "d").exists()
    assert not basetemp.exists() or not list(basetemp.iterdir())


def test_measure_records_the_evaluation_metrics(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_causal_eval.engine.fixture import EVAL_THRESHOLDS

        @pytest.mark.causal_eval(metric_thresholds=EVAL_THRESHOLDS, max_time="30ms", min_rounds=3)
        def test_eval(causal_engine, causal_bench):
            result = causal_engine("random", task="association", batch_size=4).measure(causal_bench, 20)
            assert result.n == 20
        """
    )
    out = tmp_path / "results.json"
    result = pytester.runpytest(
        *NO_CACHE, "--causal-eval", "--causal-eval-json", str(out), "--causal-eval-warmup", "off"
    )
    result.assert_outcomes(passed=1)
    data = json.loads(out.read_text())
    (measurement,) = data["measurements"]
    metrics = measurement["metrics"]
    for name in ("latency_p50", "latency_p90", "latency_p99"):
        assert metrics[name]["unit"] == "s" and metrics[name]["better"] == "lower"
        assert len(metrics[name]["samples"]) >= 3  # one per round, warm-up and calibration included
    assert metrics["accuracy"]["better"] == "higher"
    assert (
        metrics["accuracy_ci_low"]["value"]
        <= metrics["accuracy"]["value"]
        <= metrics["accuracy_ci_high"]["value"]
    )
    assert metrics["throughput"]["unit"] == "items/s"
    assert measurement["extra"]["thresholds"]["accuracy_ci_low"] == "off"
