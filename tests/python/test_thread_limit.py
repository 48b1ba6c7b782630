"""criu_images.thread_limit: the calling thread's limit on the threads one call starts."""

import threading

import pytest

import criu_images
from criu_images import _criu_images

from conftest import FIXTURES

ATTACK = FIXTURES / "attack" / "checkpoint.tar.zst"


def current_limit():
    # Reading it means setting it: put it back at once.
    limit = _criu_images._set_thread_limit(0)
    _criu_images._set_thread_limit(limit)
    return limit


def test_the_limit_holds_in_the_block_nests_and_is_put_back():
    assert current_limit() == 0
    with criu_images.thread_limit(1):
        assert current_limit() == 1
        with criu_images.thread_limit(3) as inner:
            assert current_limit() == 3 and repr(inner) == "thread_limit(3)"
        assert current_limit() == 1
        with pytest.raises(RuntimeError):
            with criu_images.thread_limit(2):
                raise RuntimeError("the block failed")
        assert current_limit() == 1
    assert current_limit() == 0


def test_the_limit_is_the_calling_threads_own():
    seen = []
    with criu_images.thread_limit(1):
        other = threading.Thread(target=lambda: seen.append(current_limit()))
        other.start()
        other.join()
    assert seen == [0]


@pytest.mark.parametrize("bad", [-1, 1.5, "2", True, None])
def test_a_limit_that_is_not_a_count_of_threads_is_refused(bad):
    with pytest.raises(ValueError, match="thread_limit"):
        criu_images.thread_limit(bad)


def test_results_do_not_depend_on_the_limit():
    with criu_images.open(ATTACK) as cp:
        everywhere = [(h.pid, h.address) for h in cp.search("AWS_SECRET", max_hits=None)]
        strings = [(s.address, s.text) for s in cp.memory(7).strings(min_len=12)]
    for limit in (1, 2):
        with criu_images.thread_limit(limit), criu_images.open(ATTACK) as cp:
            assert [(h.pid, h.address) for h in cp.search("AWS_SECRET", max_hits=None)] == everywhere
            assert [(s.address, s.text) for s in cp.memory(7).strings(min_len=12)] == strings
    assert everywhere and strings
