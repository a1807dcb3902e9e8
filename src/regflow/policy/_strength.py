"""Strength estimation: zxcvbn's guess model with a bounded cost and no shared state.

Theory of operation. zxcvbn (the Python package) finds every pattern in a password (dictionary
words, reversed and l33t words, keyboard runs, repeats, sequences, years, dates), then searches for
the sequence of patterns that needs the fewest guesses; the score 0-4 is that guess count on a log
scale. Three things make it unfit to call directly on untrusted input in a server:

1. Cost. Matching and the search are quadratic in the length, and the l33t matcher runs the whole
   dictionary match once per substitution table: up to 736 tables for a password holding the
   19 l33t characters, which costs seconds at 20-70 characters.
2. Shared state. `zxcvbn()` stores each call's user inputs in a module-level dictionary that its
   repeat matcher reads again later, so checks running in parallel threads see each other's inputs.
3. Import-time work: the frequency lists become ranked dictionaries when `zxcvbn.matching` is
   first imported (about 100 ms), which `regflow.policy` defers to the first estimate.

So this module drives zxcvbn's own pieces itself. It reuses unchanged: the frequency lists and
their ranks, the l33t table and the choice of relevant substitutions, the spatial, sequence, regex
and date matchers, the whole scoring search (`most_guessable_match_sequence`), the guesses-to-score
thresholds and the feedback. It replaces four small matchers with equivalents that take this
call's dictionaries as a parameter and stay within a bound:

- dictionary (and reversed) matching looks a substring up once in one merged table instead of
  once per frequency list, and only substrings no longer than the longest word; it returns the
  same matches in the same order as zxcvbn's (a test compares them);
- the l33t matcher enumerates at most `MAX_L33T_SUBSTITUTIONS` substitution tables (zxcvbn-ts does
  the same, `l33tMaxSubstitutions`) and reports each (position, word) once; with no more tables
  than that, which is the case for ordinary passwords, its result is zxcvbn's;
- the repeat matcher is zxcvbn's, calling this module's matching for the repeated part.

Finally only the first `READ_LENGTH` characters are estimated: the search is quadratic, and a
password longer than that is rated by its beginning. Up to that length, and with no more than
`MAX_L33T_SUBSTITUTIONS` substitution tables, the score, guesses and feedback are zxcvbn's own.
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal
from math import factorial, log10
from collections.abc import Iterable, Sequence
from typing import Any, Final

import attrs

# The estimate reads at most this many characters (see the module docstring and the README for
# the measured cost and the effect on scores).
READ_LENGTH: Final = 64
# At most this many l33t substitution tables are tried per password (zxcvbn would try up to 736).
MAX_L33T_SUBSTITUTIONS: Final = 16

Match = dict[str, Any]  # zxcvbn's match objects are plain dicts


@attrs.frozen
class Estimate:
    """zxcvbn's verdict on one password: score 0-4, guesses, and its English feedback."""

    score: int
    guesses: float
    warning: str
    suggestions: tuple[str, ...]
    sequence: tuple[Match, ...] = attrs.field(eq=False, repr=False)


class _Dictionaries:
    """zxcvbn's ranked frequency lists, merged into one table: word -> ((list name, rank), ...).

    Built once, on the first estimate, and only read afterwards (safe to share between threads).
    The lists keep zxcvbn's order, so matches come out in the order zxcvbn reports them.
    """

    def __init__(self) -> None:
        from zxcvbn import matching
        from zxcvbn.frequency_lists import FREQUENCY_LISTS

        merged: dict[str, list[tuple[str, int]]] = {}
        # FREQUENCY_LISTS is never written to, unlike RANKED_DICTIONARIES (see `user_inputs`)
        for name in FREQUENCY_LISTS:
            for word, rank in matching.RANKED_DICTIONARIES[name].items():
                merged.setdefault(word, []).append((name, rank))
        self.words: dict[str, tuple[tuple[str, int], ...]] = {
            word: tuple(entries) for word, entries in merged.items()
        }
        self.max_length: int = max(map(len, self.words))


_dictionaries: _Dictionaries | None = None
_dictionaries_lock = threading.Lock()


def _shared_dictionaries() -> _Dictionaries:
    """The merged dictionaries, built on first use."""
    global _dictionaries  # noqa: PLW0603  # a lazily built, read-only cache
    if _dictionaries is None:
        with _dictionaries_lock:
            if _dictionaries is None:
                _dictionaries = _Dictionaries()
    return _dictionaries


def bounded_l33t_subs(table: dict[str, list[str]], limit: int) -> list[dict[str, str]]:
    """zxcvbn's `enumerate_l33t_subs`, keeping at most `limit` tables in each round.

    The rounds go letter by letter as in zxcvbn; a round never has fewer tables than the one
    before, so when zxcvbn's final list has at most `limit` tables no round is cut and the result
    is exactly zxcvbn's, in the same order.
    """
    subs: list[list[tuple[str, str]]] = [[]]
    for letter, l33t_chars in table.items():
        grown: list[list[tuple[str, str]]] = []
        for l33t_char in l33t_chars:
            for sub in subs:
                index = next((k for k, (c, _) in enumerate(sub) if c == l33t_char), -1)
                if index == -1:
                    grown.append([*sub, (l33t_char, letter)])
                else:
                    alternative = [pair for k, pair in enumerate(sub) if k != index]
                    alternative.append((l33t_char, letter))
                    grown.append(sub)
                    grown.append(alternative)
        seen: set[tuple[tuple[str, str], ...]] = set()
        subs = []
        for sub in grown:
            label = tuple(sorted((letter_, char) for char, letter_ in sub))
            if label not in seen:
                seen.add(label)
                subs.append(sub)
                if len(subs) == limit:
                    break
    return [dict(sub) for sub in subs]


# zxcvbn's repeat patterns, unchanged (without DOTALL: a line break ends a repeat there too)
_GREEDY = re.compile(r"(.+)\1+")
_LAZY = re.compile(r"(.+?)\1+")
_LAZY_ANCHORED = re.compile(r"^(.+?)\1+$")


class _Matcher:
    """One estimate's matchers: zxcvbn's, with this call's user inputs and the bounds."""

    def __init__(
        self, dictionaries: _Dictionaries, user_inputs: Sequence[str], l33t_limit: int
    ) -> None:
        from zxcvbn import matching

        self._l33t_limit = l33t_limit
        self._dictionaries = dictionaries
        self._user = matching.build_ranked_dict(user_inputs)
        self._user_lengths = frozenset(map(len, self._user))
        self._longest = max([dictionaries.max_length, *self._user_lengths])

    def omnimatch(self, password: str) -> list[Match]:
        """Every pattern in `password`, in zxcvbn's order."""
        from zxcvbn import matching

        matches = [
            *self.dictionary_match(password),
            *self.reverse_dictionary_match(password),
            *self.l33t_match(password),
            *matching.spatial_match(password),
            *self.repeat_match(password),
            *matching.sequence_match(password),
            *matching.regex_match(password),
            *matching.date_match(password),
        ]
        return sorted(matches, key=_position)

    def _lookups(
        self, password: str, starts: Iterable[tuple[int, int]] | None = None
    ) -> list[Match]:
        """zxcvbn's dictionary match: every substring found in a frequency list or user input.

        `starts` optionally gives, per start index, the first end index worth trying.
        """
        words = self._dictionaries.words
        static_length = self._dictionaries.max_length
        user, user_lengths = self._user, self._user_lengths
        lower = password.lower()
        length = len(password)
        if starts is None:
            starts = ((i, i) for i in range(length))
        matches: list[Match] = []
        for i, first_j in starts:
            for j in range(first_j, min(length, i + self._longest)):
                word = lower[i : j + 1]
                found = words.get(word, ()) if j - i < static_length else ()
                if j + 1 - i in user_lengths and word in user:
                    found = (*found, ("user_inputs", user[word]))
                for name, rank in found:
                    matches.append(
                        {
                            "pattern": "dictionary",
                            "i": i,
                            "j": j,
                            "token": password[i : j + 1],
                            "matched_word": word,
                            "rank": rank,
                            "dictionary_name": name,
                            "reversed": False,
                            "l33t": False,
                        }
                    )
        return matches

    def dictionary_match(self, password: str) -> list[Match]:
        """Words of the frequency lists and user inputs inside `password`."""
        return self._lookups(password)

    def reverse_dictionary_match(self, password: str) -> list[Match]:
        """Words that appear reversed in `password`."""
        matches = self._lookups(password[::-1])
        last = len(password) - 1
        for match in matches:
            match["token"] = match["token"][::-1]
            match["reversed"] = True
            match["i"], match["j"] = last - match["j"], last - match["i"]
        return sorted(matches, key=_position)

    def l33t_match(self, password: str) -> list[Match]:
        """Words with l33t substitutions ('p4ssw0rd'), at most MAX_L33T_SUBSTITUTIONS tables."""
        from zxcvbn import matching

        table = matching.relevant_l33t_subtable(password, matching.L33T_TABLE)
        # zxcvbn indexes password.lower() with the password's positions; where lowering changes
        # the length (only U+0130) a window without a substitution may still differ, so try all
        aligned = len(password.lower()) == len(password)
        seen: set[tuple[int, int, str, str]] = set()
        matches: list[Match] = []
        for sub in bounded_l33t_subs(table, self._l33t_limit):
            if not sub:
                break
            subbed = password.translate(str.maketrans(sub))
            starts = None
            if aligned:
                # only substrings holding a substituted character can differ from a plain match
                starts = list(_first_ends(password, sub.keys()))
            for match in self._lookups(subbed, starts):
                token = password[match["i"] : match["j"] + 1]
                if token.lower() == match["matched_word"] or len(token) < 2:
                    continue
                key = (match["i"], match["j"], match["dictionary_name"], match["matched_word"])
                if key in seen:  # the same word found through another table scores the same
                    continue
                seen.add(key)
                match_sub = {c: letter for c, letter in sub.items() if c in token}
                match["l33t"] = True
                match["token"] = token
                match["sub"] = match_sub
                match["sub_display"] = ", ".join(f"{k} -> {v}" for k, v in match_sub.items())
                matches.append(match)
        return sorted(matches, key=_position)

    def repeat_match(self, password: str) -> list[Match]:
        """Repeated strings ('abcabc'), each with the estimate of its repeated part."""
        from zxcvbn import scoring

        matches: list[Match] = []
        last_index = 0
        while last_index < len(password):
            greedy = _GREEDY.search(password, pos=last_index)
            lazy = _LAZY.search(password, pos=last_index)
            if not greedy or not lazy:
                break
            if len(greedy.group(0)) > len(lazy.group(0)):
                match = greedy
                anchored = _LAZY_ANCHORED.search(match.group(0))
                base_token = anchored.group(1) if anchored else match.group(1)
            else:
                match = lazy
                base_token = match.group(1)
            i, j = match.span()[0], match.span()[1] - 1
            base = most_guessable_match_sequence(base_token, self.omnimatch(base_token))
            matches.append(
                {
                    "pattern": "repeat",
                    "i": i,
                    "j": j,
                    "token": match.group(0),
                    "base_token": base_token,
                    "base_guesses": base["guesses"],
                    "base_matches": base["sequence"],
                    "repeat_count": len(match.group(0)) / len(base_token),
                }
            )
            last_index = j + 1
        return matches


def _position(match: Match) -> tuple[int, int]:
    return match["i"], match["j"]


def _first_ends(password: str, chars: Iterable[str]) -> Iterable[tuple[int, int]]:
    """(start, first end) for windows of `password` that hold at least one of `chars`."""
    wanted = set(chars)
    next_hit = len(password)
    out: list[tuple[int, int]] = []
    for i in range(len(password) - 1, -1, -1):
        if password[i] in wanted:
            next_hit = i
        if next_hit < len(password):
            out.append((i, next_hit))
    return reversed(out)


# zxcvbn adds 10 000^(l-1) to the guesses of a sequence of l patterns, so a sequence of four or
# more is worth at least 10^12 guesses: score 4 (from 10^10 + 5), which has no feedback.
_MAX_PATTERNS: Final = 3


def most_guessable_match_sequence(password: str, matches: Iterable[Match]) -> dict[str, Any]:
    """zxcvbn's search for the cheapest sequence of patterns, tracking at most three patterns.

    This is zxcvbn's `scoring.most_guessable_match_sequence` step for step (the same candidates
    in the same order, with zxcvbn's own `estimate_guesses`), except that it does not build
    sequences of more than `_MAX_PATTERNS` patterns. zxcvbn keeps every length, which costs
    O(n^3) on passwords of many one-letter words ('iiii...'); capped, the search is O(n^2).
    Sequences of up to three patterns never compete with longer ones in zxcvbn's search, so they
    come out the same; when the cheapest has more than three patterns, zxcvbn's answer is at
    least 10^12 guesses, score 4, and so is this one (its guesses may then differ).
    """
    from zxcvbn import scoring

    n = len(password)
    by_end: list[list[Match]] = [[] for _ in range(n)]
    for match in matches:
        by_end[match["j"]].append(match)
    for ending in by_end:
        ending.sort(key=lambda match: match["i"])
    # per end position k: sequence length l -> (last match, product of guesses, total guesses)
    best_m: list[dict[int, Match]] = [{} for _ in range(n)]
    best_pi: list[dict[int, Decimal]] = [{} for _ in range(n)]
    best_g: list[dict[int, Decimal]] = [{} for _ in range(n)]

    def update(match: Match, length: int) -> None:
        k = match["j"]
        pi: Decimal = scoring.estimate_guesses(match, password)
        if length > 1:
            pi = pi * Decimal(best_pi[match["i"] - 1][length - 1])
        g = factorial(length) * pi
        g += scoring.MIN_GUESSES_BEFORE_GROWING_SEQUENCE ** (length - 1)
        for competing_length, competing_g in best_g[k].items():
            if competing_length <= length and competing_g <= g:
                return
        best_g[k][length] = g
        best_m[k][length] = match
        best_pi[k][length] = pi

    def bruteforce(i: int, j: int) -> Match:
        return {"pattern": "bruteforce", "token": password[i : j + 1], "i": i, "j": j}

    for k in range(n):
        for match in by_end[k]:
            if match["i"] > 0:
                for length in list(best_m[match["i"] - 1]):
                    if length < _MAX_PATTERNS:
                        update(match, length + 1)
            else:
                update(match, 1)
        # zxcvbn's bruteforce_update(k)
        update(bruteforce(0, k), 1)
        for i in range(1, k + 1):
            candidate = bruteforce(i, k)
            for length, last in list(best_m[i - 1].items()):
                if last["pattern"] != "bruteforce" and length < _MAX_PATTERNS:
                    update(candidate, length + 1)

    # zxcvbn's unwind(n): the cheapest length at the end, then back through the last matches
    length, total = 0, Decimal("Infinity")
    for candidate_length, candidate_g in best_g[n - 1].items():
        if candidate_g < total:
            length, total = candidate_length, candidate_g
    sequence: list[Match] = []
    k = n - 1
    while k >= 0:
        match = best_m[k][length]
        sequence.insert(0, match)
        k = match["i"] - 1
        length -= 1
    return {
        "password": password,
        "guesses": total,
        "guesses_log10": log10(total),
        "sequence": sequence,
    }


def estimate(
    password: str,
    user_inputs: Sequence[str],
    *,
    read_length: int = READ_LENGTH,
    l33t_limit: int = MAX_L33T_SUBSTITUTIONS,
) -> Estimate:
    """zxcvbn's estimate of `password` (read up to READ_LENGTH characters) with `user_inputs`.

    `user_inputs` are lowercased as zxcvbn does; their order sets their rank.
    """
    from zxcvbn import feedback, time_estimates

    password = password[:read_length]
    if not password:
        empty: dict[str, Any] = feedback.get_feedback(0, [])
        return Estimate(0, 1, empty["warning"], tuple(empty["suggestions"]), ())
    inputs = [str(value).lower() for value in user_inputs]
    matcher = _Matcher(_shared_dictionaries(), inputs, l33t_limit)
    result = most_guessable_match_sequence(password, matcher.omnimatch(password))
    guesses = result["guesses"]
    score: int = time_estimates.guesses_to_score(guesses)
    advice: dict[str, Any] = feedback.get_feedback(score, result["sequence"])
    return Estimate(
        score,
        float(guesses),
        advice["warning"],
        tuple(advice["suggestions"]),
        tuple(result["sequence"]),
    )
