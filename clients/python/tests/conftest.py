"""A real explaind process for the tests: built (or found) once, started on a free
port for the session, stopped after it.

The binary: ``$EXPLAIND_BIN`` if set, else ``target/debug/explaind`` in the
repository, else ``cargo build`` once. The server keeps its demo model
(``house-prices``), which several tests use.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator, List

import pytest

from explaind import Client
from explaind.workers import LocalServer

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"


def explaind_bin() -> Path:
    env = os.environ.get("EXPLAIND_BIN")
    if env:
        path = Path(env)
        path = path if path.is_absolute() or path.exists() else ROOT / path
        if not path.exists():
            raise FileNotFoundError(f"EXPLAIND_BIN={env}: no such file")
        return path
    path = ROOT / "target" / "debug" / "explaind"
    if not path.exists():
        subprocess.run(["cargo", "build", "--bin", "explaind"], cwd=ROOT, check=True)
    return path


class Server(LocalServer):
    """One explaind process on a free loopback port: the package's own launcher (as
    `local=True` workers use it), on the binary under test."""

    def __init__(self, args: List[str]) -> None:
        super().__init__(str(explaind_bin()), tuple(args))


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    """The session's server, demo model included."""
    s = Server([])
    yield s
    s.stop()


@pytest.fixture()
def client(server: Server) -> Iterator[Client]:
    """A client of the session's server, without progress bars."""
    with Client(server.url, progress=False) as c:
        yield c


@pytest.fixture(scope="session")
def house() -> "pd.DataFrame":  # noqa: F821
    """The demo model's data: the 546 Windsor houses, price dropped."""
    import pandas as pd

    return pd.read_csv(ROOT / "data" / "house_prices.csv").drop(columns=["price"]).astype(float)
