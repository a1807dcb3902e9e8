"""The argon2id hasher: its cost read from "m=KiB,t=passes,p=lanes", never under OWASP's
minimum, argon2-cffi's default unless chosen; at most `max_concurrent` hashes at once."""

from __future__ import annotations

import gc
import multiprocessing
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import time
from typing import Any

import argon2
import attrs
import pytest

from regflow import Argon2Hasher
from regflow.hashing import OWASP_CONFIGURATIONS, available_cpus


def test_owasps_minimum_is_read_and_hashes_with_its_cost() -> None:
    """OWASP's "m=19456,t=2,p=1": the hash carries those parameters and verifies; the
    default hasher would rehash it."""
    hasher = Argon2Hasher.from_parameters("m=19456, t=2, p=1")
    assert (hasher.memory_cost, hasher.time_cost, hasher.parallelism) == (19456, 2, 1)
    assert hasher.parameters == "m=19456,t=2,p=1"
    password_hash = hasher.hash("Kesäkuu-2024")
    assert password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher.verify(password_hash, "Kesäkuu-2024")
    assert not hasher.verify(password_hash, "Kesäkuu-2025")
    assert Argon2Hasher().needs_rehash(password_hash)
    assert not hasher.needs_rehash(password_hash)


@pytest.mark.parametrize(("memory", "passes"), OWASP_CONFIGURATIONS)
def test_each_of_owasps_configurations_is_the_floor(memory: int, passes: int) -> None:
    """Each of OWASP's five configurations is accepted; a KiB less of memory is refused, and
    a pass less too where no other configuration covers it."""
    assert Argon2Hasher.from_parameters(f"m={memory},t={passes},p=1").meets_owasp()
    with pytest.raises(ValueError, match="under OWASP's minimum"):
        Argon2Hasher.from_parameters(f"m={memory - 1},t={passes},p=1")
    if passes > 1:
        with pytest.raises(ValueError, match="under OWASP's minimum"):
            Argon2Hasher.from_parameters(f"m={memory},t={passes - 1},p=1")


def test_the_default_is_argon2_cffis_and_the_test_hasher_is_under_owasps_minimum() -> None:
    """The default is argon2-cffi's own (RFC 9106's second recommendation), as documented."""
    library = argon2.PasswordHasher()
    default = Argon2Hasher()
    assert default.parameters == "m=65536,t=3,p=4"
    assert default.parameters == (
        f"m={library.memory_cost},t={library.time_cost},p={library.parallelism}"
    )
    assert default.hash("Kesäkuu-2024").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert default.meets_owasp()
    assert not Argon2Hasher.insecure_fast().meets_owasp()


class _Overlap:
    """An argon2 stand-in that records how many of its calls run at once, each held inside
    until the test releases them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.release = threading.Event()

    def _enter(self) -> None:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.release.wait(timeout=30)
        with self._lock:
            self.running -= 1

    def hash(self, password: str) -> str:
        self._enter()
        return "$argon2id$" + password

    def verify(self, password_hash: str, password: str) -> bool:
        self._enter()
        return password_hash == "$argon2id$" + password


def _overlap_of(max_concurrent: int, calls: int = 8) -> int:
    """Start `calls` hashes and verifications; once `max_concurrent` are inside (and a moment
    for any beyond the bound to get in too), release them: the most seen inside at once."""
    cheap = Argon2Hasher.insecure_fast()
    hasher = attrs.evolve(cheap, max_concurrent=max_concurrent)
    inner = _Overlap()
    object.__setattr__(hasher, "_hasher", inner)
    threads = [threading.Thread(target=hasher.hash, args=("x",)) for _ in range(calls // 2)]
    threads += [threading.Thread(target=hasher.verify, args=("h", "x")) for _ in range(calls // 2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while inner.running < min(max_concurrent, calls) and time.monotonic() < deadline:
        time.sleep(0.005)
    time.sleep(0.05)  # room for a thread past the bound to enter, if the bound let it
    inner.release.set()
    for thread in threads:
        thread.join()
    return inner.most


def test_hashes_and_verifications_take_turns_beyond_max_concurrent() -> None:
    """Eight threads hashing and verifying at once: never more than `max_concurrent` inside
    argon2; with a bound of 8, all eight are (so the bound is what holds them)."""
    assert _overlap_of(2) == 2
    assert _overlap_of(1) == 1
    assert _overlap_of(8) == 8


def test_a_dropped_hashers_threads_end() -> None:
    """The hashing threads belong to their hasher: dropped, its threads end."""

    def hashing_threads() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("regflow-argon2")}

    before = hashing_threads()
    hasher = attrs.evolve(Argon2Hasher.insecure_fast(), max_concurrent=3)
    for password in ("a", "b", "c"):
        hasher.hash(password)
    its_own = hashing_threads() - before
    assert its_own
    del hasher
    gc.collect()
    deadline = time.monotonic() + 10
    while any(t.is_alive() for t in its_own) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not any(t.is_alive() for t in its_own)


def test_a_hash_after_the_interpreter_began_shutting_down_still_runs() -> None:
    """A thread still hashing after the main thread ended (a request past a server's shutdown
    timeout) hashes on its own thread instead of failing."""
    script = textwrap.dedent(
        """
        import threading, time
        from regflow import Argon2Hasher
        hasher = Argon2Hasher.insecure_fast()
        def late():
            time.sleep(0.3)  # the main thread has ended by now
            print(hasher.verify(hasher.hash("Kes\u00e4kuu-2024"), "Kes\u00e4kuu-2024"))
        threading.Thread(target=late).start()
        """
    )
    done = subprocess.run(  # this interpreter, a fixed script
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stdout.strip()) == (0, "True"), done.stderr


def test_the_default_bound_is_the_cpus_this_process_may_use() -> None:
    assert Argon2Hasher().concurrency == available_cpus() >= 1
    assert Argon2Hasher(max_concurrent=3).concurrency == 3
    with pytest.raises(ValueError, match="max_concurrent must be at least 1"):
        Argon2Hasher(max_concurrent=0)


def test_a_hasher_crosses_to_another_process_with_its_cost_and_bound() -> None:
    """Pickled (as `multiprocessing` sends it), it is rebuilt with threads of its own."""
    hasher = Argon2Hasher.from_parameters("m=19456,t=2,p=1")
    bounded = Argon2Hasher(max_concurrent=2)
    for original in (hasher, bounded):
        copy = pickle.loads(pickle.dumps(original))  # noqa: S301  # our own object, just dumped
        assert copy == original
        assert copy.concurrency == original.concurrency
    password_hash = hasher.hash("Kesäkuu-2024")
    assert pickle.loads(pickle.dumps(hasher)).verify(password_hash, "Kesäkuu-2024")  # noqa: S301


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "must read"),
        ("m=19456,t=2", "must read"),
        ("t=2,m=19456,p=1", "must read"),
        ("m=-1,t=2,p=1", "must read"),
        ("m=19456,t=0,p=1", "1 <= t"),
        ("m=19456,t=65,p=1", "1 <= t"),
        ("m=19456,t=2,p=0", "1 <= p"),
        ("m=19456,t=2,p=65", "1 <= p"),
        ("m=100,t=64,p=13", "8 KiB per lane"),
        ("m=1048577,t=1,p=1", "at most 1048576 KiB"),
    ],
)
def test_other_text_is_refused_naming_the_rule(text: str, rule: str) -> None:
    with pytest.raises(ValueError, match=rule):
        Argon2Hasher.from_parameters(text)


class _Priority:
    """An argon2 stand-in that records the niceness of the thread it runs on."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def hash(self, password: str) -> str:
        self.seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return "$argon2id$" + password


@pytest.mark.parametrize("nice", [19, 0, 10])
def test_hashes_run_at_the_hashers_niceness_and_the_caller_keeps_its_own(nice: int) -> None:
    """On Linux a hash's thread runs at `nice` (default 19) above the caller's priority;
    elsewhere at the caller's. The calling thread's own priority is not touched."""
    caller = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    hasher = Argon2Hasher(nice=nice) if nice != 19 else Argon2Hasher()
    inner = _Priority()
    object.__setattr__(hasher, "_hasher", inner)
    hasher.hash("x")
    hasher.hash("y")
    expected = min(caller + nice, 19) if sys.platform == "linux" else caller
    assert inner.seen == [expected, expected]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == caller


def test_niceness_outside_0_to_19_is_refused() -> None:
    for nice in (-1, 20):
        with pytest.raises(ValueError, match="nice must be 0 to 19"):
            Argon2Hasher(nice=nice)


def _hash_in_child(hasher: Argon2Hasher, password_hash: str) -> None:
    sys.exit(0 if hasher.verify(password_hash, "Kesäkuu-2024") else 1)


def test_a_forked_child_hashes_on_threads_of_its_own() -> None:
    """The parent's hashing threads do not exist in a forked child: it starts its own rather
    than wait for them forever."""
    hasher = Argon2Hasher.insecure_fast()
    password_hash = hasher.hash("Kesäkuu-2024")  # the parent's threads exist now
    child = multiprocessing.get_context("fork").Process(
        target=_hash_in_child, args=(hasher, password_hash)
    )
    child.start()
    child.join(timeout=30)
    if child.is_alive():
        child.kill()
    assert child.exitcode == 0


def _priority_in_child(nice: int, connection: Any) -> None:
    os.setpriority(os.PRIO_PROCESS, 0, 15)  # a deployment started under `nice -n 15`
    hasher = Argon2Hasher(nice=nice)
    inner = _Priority()
    object.__setattr__(hasher, "_hasher", inner)
    hasher.hash("x")
    connection.send(inner.seen)


@pytest.mark.parametrize(("nice", "expected"), [(2, 17), (10, 19), (0, 15)])
def test_the_niceness_adds_to_a_process_already_niced(nice: int, expected: int) -> None:
    """In a process at nice 15, a hasher's threads go `nice` steps further, up to 19 (Linux;
    elsewhere they keep the process's). Set as an absolute value, 10 would need a privilege
    and leave no thread to hash on."""
    parent, child = multiprocessing.get_context("fork").Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_priority_in_child, args=(nice, child)
    )
    process.start()
    assert parent.poll(30)
    seen = parent.recv()
    process.join(timeout=30)
    assert seen == [expected if sys.platform == "linux" else 15]
