"""A real explaind process for the tests: built (or found) once, started on a free
port for the session, stopped after it.

The binary: ``$EXPLAIND_BIN`` if set, else ``target/debug/explaind`` in the
repository, else ``cargo build`` once. The server keeps its demo model
(``house-prices``), which several tests use.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterator, List

import pytest
import requests

from explaind import Client

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One explaind process on a free loopback port."""

    def __init__(self, args: List[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="explaind-", suffix=".log", delete=False)
        self.proc = subprocess.Popen([str(explaind_bin()), "--addr", f"127.0.0.1:{self.port}", *args],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"explaind exited with {self.proc.returncode}: {self.logs()}")
            try:
                if requests.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"explaind not ready after 60 s: {self.logs()}")
            time.sleep(0.05)

    def logs(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


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
