"""``progress=`` of long operations: a callable ``f(done, total)``, or a
tqdm progress bar (anything with ``update()`` and ``total``).

The extension calls ``adapt`` once per operation and then calls what it
returns from the calling thread, a few times a second and once at the end
with ``done == total``.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["adapt"]


def adapt(progress: Any) -> Callable[[int, int], Any]:
    """A callable ``f(done, total)`` for ``progress``."""
    if hasattr(progress, "update") and hasattr(progress, "total"):
        return _Bar(progress)
    if callable(progress):
        return progress
    raise TypeError(
        f"progress must be a callable f(done, total) or a tqdm progress bar, not {type(progress).__name__}"
    )


class _Bar:
    """Drives a tqdm bar (or any object with ``update(n)`` and ``total``)."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar
        self.done = None

    def __call__(self, done: int, total: int) -> None:
        if self.done is None:
            # A bar made without a total (tqdm(unit="B")) learns it here.
            if hasattr(self.bar, "reset"):
                self.bar.reset(total=total)
            else:
                self.bar.total = total
            self.done = 0
        elif self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.done)
        self.done = done
