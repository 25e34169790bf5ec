import sys

from pytest_causal_eval.cli import main

sys.exit(main())
