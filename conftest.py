"""Suite-wide parameters for the benchmark suites (and nothing else)."""

from __future__ import annotations

import json
import os
from itertools import islice
from pathlib import Path
from typing import Any

import pytest

#: Questions per evaluation in the suites; CAUSAL_EVAL_SUITE_N overrides it (e.g. 2000 on a GPU runner).
SUITE_N = int(os.environ.get("CAUSAL_EVAL_SUITE_N", "200"))
#: Batch sizes every engine suite is parametrized over.
BATCH_SIZES = (1, 32, 256)
#: Seed of every generated question stream, so every run sees the same questions.
SUITE_SEED = 20261125
#: The task of the one-task suites (models, executors, concurrency, scale, GPU).
SUITE_TASK = "association"
#: Executors of the executor suite; Ray starts a local cluster per run, so it is opt-in.
EXECUTORS: tuple[str, ...] = ("serial", "thread", "process", "async") + (
    ("ray",) if os.environ.get("CAUSAL_EVAL_SUITE_RAY") == "1" else ()
)
#: Every n of the scalability suite; the last only with --causal-eval or CAUSAL_EVAL_SUITE_FULL=1.
SCALE_NS = (1_000, 10_000, 100_000)
#: Evaluations (or requests) in flight in the concurrency suite: the reference framework's 20-50.
CONCURRENCY = (8, 32)
#: Real causal-reasoning data (CLadder, BIG-Bench Hard), committed under data/ (see data/README.md).
#: ``--data DIR`` or CAUSAL_EVAL_DATA=DIR reads another copy with the same layout.
DATA_DIR = Path(__file__).resolve().parent / "data"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--data",
        metavar="DIR",
        default=None,
        help="Folder of the causal-reasoning data the suites and tests read (default: data/ in the "
        "repository; also CAUSAL_EVAL_DATA).",
    )


@pytest.fixture(scope="session")
def suite_n() -> int:
    return SUITE_N


@pytest.fixture(scope="session")
def suite_seed() -> int:
    return SUITE_SEED


def _chosen_data_dir(config: pytest.Config) -> Path | None:
    chosen = config.getoption("--data") or os.environ.get("CAUSAL_EVAL_DATA")
    return Path(chosen).expanduser().resolve() if chosen else None


def _has_layout(path: Path) -> bool:
    return (path / "cladder").is_dir() and (path / "bbh-causal-judgement").is_dir()


def pytest_configure(config: pytest.Config) -> None:
    chosen = _chosen_data_dir(config)
    if chosen is not None and not _has_layout(chosen):
        raise pytest.UsageError(
            f"--data / CAUSAL_EVAL_DATA: {chosen} has no cladder/ and bbh-causal-judgement/ folders "
            "(the layout of data/ in the repository is expected)"
        )


@pytest.fixture(scope="session")
def data_dir(pytestconfig: pytest.Config) -> Path:
    """The data folder: ``--data DIR``, else ``CAUSAL_EVAL_DATA``, else data/ in the repository."""
    path = _chosen_data_dir(pytestconfig) or DATA_DIR
    if not _has_layout(path):  # only a copy of this conftest outside the repository gets here
        pytest.fail(
            f"no causal-reasoning data at {path}: pass --data DIR or set CAUSAL_EVAL_DATA", pytrace=False
        )
    return path


@pytest.fixture(scope="session")
def torch_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A small classifier trained at session start (a few seconds) into the session's tmp dir.

    Returns the engine's ``TrainReport``; its ``weights`` is the checkpoint and its held-out
    questions are the first SUITE_N of the SUITE_TASK stream with seed ``SUITE_SEED + 1_000_003``.
    """
    pytest.importorskip("torch", reason="torch is not installed: the torch model cases need it")
    from pytest_causal_eval.engine.models.training import train_classifier

    out = tmp_path_factory.mktemp("torch-checkpoint")
    return train_classifier(
        out, tasks=[SUITE_TASK], n_per_task=1000, heldout_per_task=SUITE_N, epochs=3, seed=SUITE_SEED
    )


@pytest.fixture(scope="session")
def replay_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Recorded answers to the first SUITE_N SUITE_TASK questions, every 4th one wrong (75% right)."""
    from pytest_causal_eval.engine import create_task

    path = tmp_path_factory.mktemp("replay") / "recorded.jsonl"
    stream = create_task(SUITE_TASK).questions(SUITE_SEED)
    lines = []
    for i, q in enumerate(islice(stream, SUITE_N)):
        wrong = next(c for c in q.choices if c != q.answer)
        lines.append(json.dumps({"input": q.prompt, "prediction": wrong if i % 4 == 3 else q.answer}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


#: Suites that go through the local HTTP model server: measured and reported, but their time is
#: not gated against stored baselines (threshold "off"; accuracy stays gated). Between pytest
#: sessions the server-and-client pair on a 2-core runner settles into different speeds: A/A runs
#: here moved by +28% and +67% while each run's own samples were tight. Compare them within one
#: job with `causal-eval ab`, or give them a threshold of your own on a quieter runner.
HTTP_GATE = "off"
#: Why the HTTP cases are not counted in instruction mode: the server is another process (not counted)
#: and the client's count depends on how its threads and the server's replies interleave.
HTTP_NOT_COUNTED = (
    "HTTP round trips: the server is another process, which is not counted, and the client's count "
    "depends on how the replies interleave; not gated in time mode either (HTTP_GATE)"
)
