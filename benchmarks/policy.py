"""Password policy benchmark: check times by length and kind, the worst cases, score agreement.

    python benchmarks/policy.py            # about a minute on two cores
    python benchmarks/policy.py --quick    # fewer samples, no agreement corpus

Times are `PasswordPolicy.helen().check(password, context)` (all rules, zxcvbn included) on one
thread, in milliseconds; each cell is the median and maximum over its samples. "worst" is the
slowest of a set of inputs built against each cost in zxcvbn (l33t tables, one-letter words,
digit runs for the date matcher, keyboard zigzags, NFKC expansion), each run several times.
The agreement section compares the bounded estimate's score with unbounded zxcvbn's own on a
corpus of ordinary passwords, with the same user inputs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import statistics
import string
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from importlib import metadata
from pathlib import Path

try:
    import regflow  # noqa: F401  # installed (pip install -e .)
except ImportError:  # run from a checkout without installing: use its src/
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from regflow.policy import PasswordPolicy, PersonalContext, _rules, _strength

LENGTHS = (10, 16, 32, 64, 128, 10_000)
CONTEXT = PersonalContext(
    given_names="Anna-Liisa",
    family_name="Virtanen",
    email="anna-liisa.virtanen@example.fi",
    personal_id="131052-308T",
    birth_date=dt.date(1952, 10, 13),
)
PRINTABLE = string.ascii_letters + string.digits + string.punctuation
L33T = "4@8({[<3691!|7$5+%2"  # every character of zxcvbn's l33t table


def fit(text: str, length: int) -> str:
    """`text` repeated or cut to exactly `length` characters."""
    return (text * (length // len(text) + 1))[:length]


def random_password(rng: random.Random, length: int) -> str:
    """Printable ASCII chosen at random, as a password manager makes them."""
    return "".join(rng.choice(PRINTABLE) for _ in range(length))


def repetitive_password(rng: random.Random, length: int) -> str:
    """A short random block repeated ('Xk4Xk4Xk4...')."""
    return fit(random_password(rng, rng.randint(1, 4)), length)


def dictionary_password(rng: random.Random, length: int) -> str:
    """Common words, capitalised, separated, with a number: 'Summer-house-Lake2024-...'."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    words = FREQUENCY_LISTS["english_wikipedia"][:5000] + FREQUENCY_LISTS["passwords"][:2000]
    parts: list[str] = []
    while sum(map(len, parts)) < length:
        word = rng.choice(words)
        parts.append(word.capitalize() if rng.random() < 0.4 else word)
        parts.append(rng.choice(["", "-", " ", str(rng.randint(0, 2030))]))
    return "".join(parts)[:length]


def worst_candidates(length: int) -> dict[str, str]:
    """Inputs built against each of zxcvbn's costs, at `length` characters."""
    return {
        "l33t table (all 19 l33t characters, repeated)": fit(L33T, length),
        "l33t table, then '4' (= 'a') runs": fit(L33T + "4" * length, length),
        "'p@$$w0rd' + l33t characters": fit("p@$$w0rd" + L33T, length),
        "one-letter words 'iiii...'": "i" * length,
        "one digit 'iiii...9'": fit("i" * (length - 1) + "9", length),
        "digits '1111...' (dates, l33t 1 = i/l)": "1" * length,
        "'111...1x' twice (a repeat: its half analysed again)": fit(
            "1" * (length // 2 - 1) + "x", length
        ),
        "keypad zigzag '1212...'": fit("12", length),
        "digit sequence '1234567890...'": fit("1234567890", length),
        "NFKC expansion (U+FDFA, 18 letters each)": "\ufdfa" * length,
        "combining marks 'a\u0301a\u0301...'": fit("a\u0301", length),
    }


def timed(function: Callable[[], object]) -> float:
    """Milliseconds one call of `function` takes."""
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1000


def benchmark(policy: PasswordPolicy, samples: int, repeats: int) -> None:
    """Print the table of check times."""
    rng = random.Random(20261127)
    kinds = {
        "random": random_password,
        "repetitive": repetitive_password,
        "dictionary-like": dictionary_password,
    }
    print(f"{'length':>7}  {'kind':<16} {'median ms':>10} {'max ms':>8}  input")
    worst_overall = 0.0
    for length in LENGTHS:
        for kind, make in kinds.items():
            times = []
            for _ in range(samples):
                password = make(rng, length)
                times.append(timed(partial(policy.check, password, CONTEXT)))
            print(f"{length:>7}  {kind:<16} {statistics.median(times):>10.2f} {max(times):>8.2f}")
        slowest: tuple[float, float, str] = (0.0, 0.0, "")
        for name, password in worst_candidates(length).items():
            times = [timed(partial(policy.check, password, CONTEXT)) for _ in range(repeats)]
            slowest = max(slowest, (statistics.median(times), max(times), name))
        median, maximum, name = slowest
        worst_overall = max(worst_overall, maximum)
        print(f"{length:>7}  {'worst':<16} {median:>10.2f} {maximum:>8.2f}  {name}")
    print(f"\nslowest single check seen: {worst_overall:.1f} ms")


def threads(policy: PasswordPolicy, checks: int) -> None:
    """Print checks per second on 1 and 4 threads (there is no lock to wait on)."""
    rng = random.Random(5)
    passwords = [dictionary_password(rng, rng.randint(10, 20)) for _ in range(checks)]
    for workers in (1, 4):
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda p: policy.check(p, CONTEXT), passwords))
        rate = checks / (time.perf_counter() - start)
        print(f"  {workers} thread{'s' if workers > 1 else ' '}: {rate:7.0f} checks/s")


def corpus() -> Iterator[tuple[str, str]]:
    """(category, password): ordinary passwords and passphrases, up to zxcvbn's 72 characters."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    rng = random.Random(1952)
    for password in FREQUENCY_LISTS["passwords"][::20]:
        yield "common passwords (zxcvbn's list, every 20th)", password
    words = FREQUENCY_LISTS["english_wikipedia"][:10000]
    for count in (2, 3, 4, 5, 6):
        for _ in range(200):
            chosen = [rng.choice(words) for _ in range(count)]
            if rng.random() < 0.3:
                chosen = [word.capitalize() for word in chosen]
            phrase = rng.choice(["", " ", "-", ".", "_"]).join(chosen)
            if rng.random() < 0.3:
                phrase += str(rng.randint(0, 2030)) + rng.choice(["", "!", "?"])
            yield f"passphrases of {count} words", phrase[:72]
    for _ in range(200):
        phrase = " ".join(rng.choice(words) for _ in range(12))
        yield "long passphrases (65-72 characters)", phrase[: rng.randint(65, 72)]
    every = {"a": "4@", "b": "8", "c": "({[<", "e": "3", "g": "69", "i": "1!|", "l": "1|7"}
    every |= {"o": "0", "s": "$5", "t": "+7", "x": "%", "z": "2"}
    for _ in range(100):
        phrase = "".join(rng.choice(words[:3000]) for _ in range(rng.randint(2, 3)))[:20]
        phrase = "".join(rng.choice(every[c]) if c in every else c for c in phrase)
        yield "l33t, every letter swapped (up to 20 chars)", phrase
    names = FREQUENCY_LISTS["female_names"] + FREQUENCY_LISTS["male_names"]
    swaps = {"a": "4@", "e": "3", "i": "1!", "o": "0", "s": "$5", "t": "7+", "l": "1|"}
    for _ in range(500):
        word = rng.choice(names + words[:3000]).capitalize()
        if rng.random() < 0.5:
            word = "".join(
                rng.choice(swaps[c]) if c in swaps and rng.random() < 0.5 else c for c in word
            )
        yield (
            "word/name + l33t + year",
            word
            + rng.choice(
                ["", "!", "1", "123", str(rng.randint(1940, 2030)), "#" + str(rng.randint(1, 99))]
            ),
        )
    for _ in range(300):
        yield "random 8-24 (password manager)", random_password(rng, rng.randint(8, 24))


def agreement() -> None:
    """Print how often the bounded estimate's score equals unbounded zxcvbn's."""
    from zxcvbn import matching, zxcvbn

    inputs = _rules.user_inputs(CONTEXT, ())
    tally: dict[str, list[int]] = {}
    long_ones = [0, 0]  # same score, count: passwords longer than the read length
    capped = [0, 0]  # same score, count: passwords needing more l33t tables than the cap
    prefix = [0, 0]  # same score, count: zxcvbn on the first 14 characters of a passphrase
    for category, password in corpus():
        if not password:
            continue
        reference = zxcvbn(password, user_inputs=inputs)["score"]
        ours = _strength.estimate(password, inputs).score
        row = tally.setdefault(category, [0, 0, 0])
        row[0] += ours == reference
        row[1] += 1
        row[2] += (ours >= 3) == (reference >= 3)  # the too_weak verdict at the default minimum
        if len(password) > _strength.READ_LENGTH:
            long_ones = [long_ones[0] + (ours == reference), long_ones[1] + 1]
        table = matching.relevant_l33t_subtable(password, matching.L33T_TABLE)
        if len(matching.enumerate_l33t_subs(table)) > _strength.MAX_L33T_SUBSTITUTIONS:
            capped = [capped[0] + (ours == reference), capped[1] + 1]
        if category.startswith("passphrases") and len(password) > 14:
            head = _strength.estimate(password[:14], inputs).score
            prefix = [prefix[0] + (head == reference), prefix[1] + 1]
    print(f"{'corpus':<46} {'same score':>16} {'same too_weak':>15}")
    total = [0, 0, 0]
    for category, (same, count, verdict) in tally.items():
        total = [total[0] + same, total[1] + count, total[2] + verdict]
        print(
            f"{category:<46} {same:>5}/{count:<5} {percent(same, count)} {percent(verdict, count)}"
        )
    same, count, verdict = total
    print(f"{'all':<46} {same:>5}/{count:<5} {percent(same, count)} {percent(verdict, count)}")
    print(
        f"of which longer than {_strength.READ_LENGTH} characters (rated by their first "
        f"{_strength.READ_LENGTH}): same score {long_ones[0]}/{long_ones[1]}"
    )
    print(
        f"of which needing more than {_strength.MAX_L33T_SUBSTITUTIONS} l33t tables: "
        f"same score {capped[0]}/{capped[1]}"
    )
    print(
        f"for comparison, zxcvbn on a plain 14-character prefix gives the same score for "
        f"{prefix[0]}/{prefix[1]} ({percent(*prefix).strip()}) passphrases longer than 14"
    )


def percent(part: int, whole: int) -> str:
    """`part` of `whole` as a right-aligned percentage."""
    return f"{100 * part / whole:6.1f}%"


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, no agreement")
    quick = parser.parse_args().quick
    policy = PasswordPolicy.helen()
    print("regflow password policy: PasswordPolicy.helen().check(password, context)")
    print(
        f"Python {platform.python_version()}, zxcvbn {metadata.version('zxcvbn')}, "
        f"{platform.machine()}, estimate reads {_strength.READ_LENGTH} characters, "
        f"at most {_strength.MAX_L33T_SUBSTITUTIONS} l33t tables\n"
    )
    first = timed(lambda: policy.check("Virtuoso2024x", CONTEXT))
    print(f"first check in a process (loads zxcvbn's lists once): {first:.0f} ms\n")
    benchmark(policy, samples=10 if quick else 40, repeats=3 if quick else 7)
    print("\nthroughput, 10-20 character dictionary-like passwords (no lock; one GIL):")
    threads(policy, 200 if quick else 600)
    if not quick:
        print("\nscore agreement with unbounded zxcvbn (same user inputs):")
        agreement()


if __name__ == "__main__":
    main()
