"""tqdm progress bars when tqdm is installed (and wanted); silent otherwise."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional


def _tqdm() -> Any:
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


@contextmanager
def row_bar(total: int, show: Optional[bool]) -> Iterator[Callable[[int], None]]:
    """A bar over ``total`` rows; yields ``advance(rows_done)``. ``show=None``
    shows it when tqdm imports, ``True`` also (silently without tqdm)."""
    tqdm = _tqdm() if show is not False else None
    if tqdm is None:
        yield lambda n: None
        return
    with tqdm(total=total, unit="row", desc="explaind") as bar:
        yield lambda n: bar.update(n)


@contextmanager
def job_bar(job_id: str, show: bool) -> Iterator[Callable[[float], None]]:
    """A bar over a job's progress share (0 to 1); yields ``set(share)``."""
    tqdm = _tqdm() if show else None
    if tqdm is None:
        yield lambda p: None
        return
    with tqdm(total=1000, desc=f"job {job_id}", unit="‰") as bar:
        def to(share: float) -> None:
            bar.update(max(0, int(round(share * 1000)) - bar.n))
        yield to
