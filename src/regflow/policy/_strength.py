"""Strength estimation: zxcvbn's guess model, with a bounded cost and no shared state.

Theory of operation. zxcvbn (the Python package) finds every pattern in a password (dictionary
words, reversed and l33t words, keyboard runs, repeats, sequences, years, dates), then searches for
the sequence of patterns that needs the fewest guesses; the score 0-4 is that number on a log
scale. Called directly on untrusted input in a server it has three problems:

1. Cost. Its l33t matcher runs the whole dictionary match once per substitution table, and a
   password holding the 19 l33t characters has 736 tables: seconds at 20-70 characters. Its
   search is cubic in the length when many one-letter words ('i') are present, its date matcher
   quadratic in the number of digits, its keyboard-run pricing cubic in the number of turns.
   (And it raises ValueError on five digits followed by a line break.)
2. Shared state. `zxcvbn()` stores each call's user inputs in a module-level dictionary that its
   repeat matcher reads again later, so checks running in parallel threads see each other's.
3. Import-time work: `zxcvbn.matching` builds its ranked dictionaries on import.

So this module drives zxcvbn's own pieces itself, and never calls `zxcvbn()`. It reuses unchanged
the frequency lists and ranks, the l33t table and the choice of relevant substitutions, the
keyboard, sequence and regex matchers, the date splits and their reading, every guess estimate
(`scoring.estimate_guesses`), the score thresholds and the feedback. It replaces, with
equivalents that take this call's dictionaries as a parameter:

- the dictionary and reversed-dictionary matchers: one lookup per substring in a merged table
  instead of one per list, stopping as soon as no word starts with the substring; they return
  zxcvbn's matches in zxcvbn's order;
- the l33t matcher: at most `MAX_L33T_SUBSTITUTIONS` substitution tables (zxcvbn-ts caps them the
  same way, `l33tMaxSubstitutions`), each (position, word) reported once; with no more tables than
  that, as for ordinary passwords, the matches are zxcvbn's;
- the repeat matcher: zxcvbn's, calling this module's matching for the repeated part;
- the date matcher: zxcvbn's candidates, with its pairwise final filter done by one sort;
- the search: zxcvbn's step for step, except that it drops partial sequences that already cost
  `ENOUGH` guesses (score 4, where zxcvbn gives no feedback), which makes it linear; keyboard runs
  that cost `ENOUGH` on their own are dropped before pricing them.

Only the first `READ_LENGTH` characters are estimated. Up to that length, and with at most
`MAX_L33T_SUBSTITUTIONS` tables, the score and the feedback are zxcvbn's, with one theoretical
exception: zxcvbn's search is order-dependent (the order in which it first stores each sequence
length at a position decides which of two candidates survives), and a candidate worth ENOUGH or
more that zxcvbn stores and this search drops can change that order. No difference has turned up
in 20 000 hostile strings and 3 600 ordinary passwords compared with zxcvbn; the tests compare
some of each, and `benchmarks/policy.py` measures the agreement and the cost.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from math import factorial
from typing import Any, Final

import attrs

# The estimate reads at most this many characters; a longer password is rated by its beginning.
# 64 is the shortest maximum length a policy may have, so every password up to there is read.
READ_LENGTH: Final = 64
# At most this many l33t substitution tables are tried per string (zxcvbn tries up to 736).
MAX_L33T_SUBSTITUTIONS: Final = 16
# zxcvbn's score is 4 from 10^10 + 5 guesses on, and from score 3 on it gives no feedback: below
# this the search is zxcvbn's to the digit, above it only "at least this many" matters.
ENOUGH: Final = 10**10 + 5
# zxcvbn adds 10 000^(l - 1) guesses to a sequence of l patterns: four or more are >= 10^12.
_MAX_PATTERNS: Final = 3
# zxcvbn prices a bruteforce stretch of n characters at 10^n guesses: eleven or more are >= 10^11.
_MAX_BRUTEFORCE: Final = 10

Match = dict[str, Any]  # zxcvbn's match objects are plain dicts


@attrs.frozen
class Estimate:
    """zxcvbn's verdict on one password: the score 0-4, the guesses and its English feedback.

    `guesses` is exact below `ENOUGH`; from there on it is `ENOUGH` ("at least").
    """

    score: int
    guesses: Decimal
    warning: str
    suggestions: tuple[str, ...]


class _Dictionaries:
    """zxcvbn's ranked frequency lists, indexed for one lookup per substring.

    Built once, on the first estimate, and only read afterwards (safe to share between threads).
    `lists` keeps zxcvbn's order of the lists, so matches come out in zxcvbn's order.
    """

    def __init__(self) -> None:
        from zxcvbn import matching
        from zxcvbn.frequency_lists import FREQUENCY_LISTS

        # FREQUENCY_LISTS is never written to, unlike RANKED_DICTIONARIES (see `user_inputs`)
        self.lists: tuple[tuple[str, dict[str, int]], ...] = tuple(
            (name, matching.RANKED_DICTIONARIES[name]) for name in FREQUENCY_LISTS
        )
        # word -> bit k set when the word is in list k (small ints: no memory per word)
        self.presence: dict[str, int] = {}
        for bit, (_, ranked) in enumerate(self.lists):
            for word in ranked:
                self.presence[word] = self.presence.get(word, 0) | (1 << bit)
        self.sorted_words: list[str] = sorted(self.presence)
        self.max_length: int = max(map(len, self.sorted_words))

    def starts_a_word(self, prefix: str) -> bool:
        """Whether some word of the lists begins with `prefix`."""
        index = bisect.bisect_left(self.sorted_words, prefix)
        return index < len(self.sorted_words) and self.sorted_words[index].startswith(prefix)

    def entries(self, word: str, mask: int) -> Iterator[tuple[str, int]]:
        """(list name, rank) for each list whose bit is set in `mask`, in zxcvbn's order."""
        for bit, (name, ranked) in enumerate(self.lists):
            if mask >> bit & 1:
                yield name, ranked[word]


_dictionaries: _Dictionaries | None = None
_dictionaries_lock = threading.Lock()


def _shared_dictionaries() -> _Dictionaries:
    """The indexed dictionaries, built on first use."""
    global _dictionaries  # noqa: PLW0603  # a lazily built, read-only cache
    if _dictionaries is None:
        with _dictionaries_lock:
            if _dictionaries is None:
                _dictionaries = _Dictionaries()
    return _dictionaries


def bounded_l33t_subs(table: dict[str, list[str]], limit: int) -> list[dict[str, str]]:
    """zxcvbn's `enumerate_l33t_subs`, keeping at most `limit` tables in each round.

    The rounds go letter by letter as zxcvbn's do. A round never has fewer tables than the one
    before, so when zxcvbn's final list has at most `limit` tables no round is cut and the result
    is zxcvbn's, in zxcvbn's order; otherwise it is the first `limit` of the last round.
    """
    subs: list[list[tuple[str, str]]] = [[]]
    for letter, l33t_chars in table.items():
        grown: list[list[tuple[str, str]]] = []
        for l33t_char in l33t_chars:
            for sub in subs:
                index = next((k for k, (char, _) in enumerate(sub) if char == l33t_char), -1)
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
            label = tuple(sorted((to, char) for char, to in sub))
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


def _position(match: Match) -> tuple[int, int]:
    return match["i"], match["j"]


class _Matcher:
    """One estimate's matchers: zxcvbn's, with this call's user inputs and within the bounds."""

    def __init__(
        self, dictionaries: _Dictionaries, user_inputs: Sequence[str], l33t_limit: int
    ) -> None:
        from zxcvbn import matching

        self._dictionaries = dictionaries
        self._user: dict[str, int] = matching.build_ranked_dict(user_inputs)
        self._user_lengths = sorted({len(word) for word in self._user if word})
        self._l33t_limit = l33t_limit
        # prefix -> whether a listed word starts with it; l33t tables repeat most prefixes
        self._prefixes: dict[str, bool] = {}

    def omnimatch(self, password: str) -> list[Match]:
        """Every pattern in `password`, in zxcvbn's order."""
        from zxcvbn import matching

        matches = [
            *self.dictionary_match(password),
            *self.reverse_dictionary_match(password),
            *self.l33t_match(password),
            *self.spatial_match(password),
            *self.repeat_match(password),
            *matching.sequence_match(password),
            *matching.regex_match(password),
            *date_match(password),
        ]
        return sorted(matches, key=_position)

    def _lookups(
        self,
        password: str,
        first_ends: Sequence[int] | None = None,
        seen: set[tuple[int, int, str, bool]] | None = None,
    ) -> list[Match]:
        """zxcvbn's `dictionary_match`: each substring found in a frequency list or user input.

        `first_ends[i]`, when given, is the first end index worth reporting for start i; a
        (start, end, word, is a user input) in `seen`, when given, is not reported again (and
        is added to it).
        """
        words = self._dictionaries
        presence, longest = words.presence, words.max_length
        lower = password.lower()  # zxcvbn slices this with the password's indices; so do we
        length = len(password)
        found: list[tuple[int, int, str, str, int]] = []
        for i in range(length):
            first_j = i if first_ends is None else first_ends[i]
            if first_j >= length:
                continue
            for j in range(i, min(length, i + longest)):
                word = lower[i : j + 1]
                mask = presence.get(word)
                if mask is None:
                    starts = self._prefixes.get(word)
                    if starts is None:
                        starts = self._prefixes[word] = words.starts_a_word(word)
                    if starts:
                        continue
                    break  # no longer substring starting at i can be a word either
                if j >= first_j and _first_time(seen, (i, j, word, False)):
                    found.extend((i, j, word, *entry) for entry in words.entries(word, mask))
            for size in self._user_lengths:
                j = i + size - 1
                if j >= length:
                    break
                word = lower[i : j + 1]
                if j >= first_j and word in self._user and _first_time(seen, (i, j, word, True)):
                    found.append((i, j, word, "user_inputs", self._user[word]))
        # zxcvbn's order: by (i, j), then by list, the user inputs last (a stable sort keeps that)
        found.sort(key=lambda item: (item[0], item[1]))
        return [
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
            for i, j, word, name, rank in found
        ]

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
        """Words with l33t substitutions ('p4ssw0rd'), trying a bounded number of tables."""
        from zxcvbn import matching

        table = matching.relevant_l33t_subtable(password, matching.L33T_TABLE)
        # zxcvbn slices password.lower() with the password's indices; where lowering changes the
        # length (U+0130 only) a substring without a substitution may differ too, so try them all
        aligned = len(password.lower()) == len(password)
        # a word found again through another table has the same guesses: report it once
        seen: set[tuple[int, int, str, bool]] = set()
        matches: list[Match] = []
        for sub in bounded_l33t_subs(table, self._l33t_limit):
            if not sub:
                break
            subbed = password.translate({ord(char): letter for char, letter in sub.items()})
            # a substring without a substituted character is a plain match, which zxcvbn skips
            first_ends = _next_positions(password, sub.keys()) if aligned else None
            for match in self._lookups(subbed, first_ends, seen):
                token = password[match["i"] : match["j"] + 1]
                if token.lower() == match["matched_word"] or len(token) < 2:
                    continue
                match_sub = {char: letter for char, letter in sub.items() if char in token}
                match["l33t"] = True
                match["token"] = token
                match["sub"] = match_sub
                match["sub_display"] = ", ".join(f"{k} -> {v}" for k, v in match_sub.items())
                matches.append(match)
        return sorted(matches, key=_position)

    def spatial_match(self, password: str) -> list[Match]:
        """zxcvbn's keyboard runs ('qwerty', '7896321'), less those worth ENOUGH guesses alone.

        zxcvbn prices a run of length L with t turns in O(L t^2) steps (20 ms for a 64-character
        zigzag); one term of its sum, s * d^min(t, L - 1), already shows a run worth ENOUGH, and
        such a match cannot be part of a sequence below ENOUGH (see `search`).
        """
        from zxcvbn import matching, scoring

        kept = []
        for match in matching.spatial_match(password):
            if match["graph"] in ("qwerty", "dvorak"):
                starts = scoring.KEYBOARD_STARTING_POSITIONS
                degree = scoring.KEYBOARD_AVERAGE_DEGREE
            else:
                starts, degree = scoring.KEYPAD_STARTING_POSITIONS, scoring.KEYPAD_AVERAGE_DEGREE
            turns = min(match["turns"], len(match["token"]) - 1)
            if starts * degree**turns < 2 * ENOUGH:  # twice: a margin for float rounding
                kept.append(match)
        return kept

    def repeat_match(self, password: str) -> list[Match]:
        """zxcvbn's repeats ('abcabc'), each with the estimate of its repeated part."""
        matches: list[Match] = []
        last_index = 0
        while last_index < len(password):
            greedy = _GREEDY.search(password, pos=last_index)
            lazy = _LAZY.search(password, pos=last_index)
            if not greedy or not lazy:
                break
            if len(greedy.group(0)) > len(lazy.group(0)):
                # greedy beats lazy for 'aabaab'; its repeated part may repeat itself
                match = greedy
                anchored = _LAZY_ANCHORED.search(match.group(0))
                base_token = anchored.group(1) if anchored else match.group(1)
            else:
                match = lazy
                base_token = match.group(1)
            i, j = match.start(), match.end() - 1
            base_guesses, base_matches = search(base_token, self.omnimatch(base_token))
            matches.append(
                {
                    "pattern": "repeat",
                    "i": i,
                    "j": j,
                    "token": match.group(0),
                    "base_token": base_token,
                    "base_guesses": base_guesses,
                    "base_matches": base_matches,
                    "repeat_count": len(match.group(0)) / len(base_token),
                }
            )
            last_index = j + 1
        return matches


# zxcvbn's date patterns, unchanged
_MAYBE_DATE = re.compile(r"^\d{4,8}$")
_MAYBE_DATE_WITH_SEPARATOR = re.compile(r"^(\d{1,4})([\s/\\_.-])(\d{1,2})\2(\d{1,4})$")


def date_match(password: str) -> list[Match]:
    """zxcvbn's `date_match`, with its final filter made O(m log m) instead of O(m^2).

    The candidates are found as zxcvbn finds them (its patterns, splits, `map_ints_to_dmy` and
    reference year). zxcvbn then drops each candidate lying inside another by comparing every
    pair: 10 ms for 64 digits, most of a check's cost. A position holds at most one candidate,
    so sorting by start, longest first, and keeping the furthest end seen so far finds the same
    ones. A test compares the result with zxcvbn's. Unlike zxcvbn's, it does not raise on a
    line break after five digits (see `_numbers`).
    """
    from zxcvbn import matching, scoring

    found: list[Match] = []
    length = len(password)
    for i in range(length - 3):  # 4 to 8 digits: '1191', '11111991'
        for j in range(i + 3, min(i + 8, length)):
            token = password[i : j + 1]
            if not _MAYBE_DATE.match(token):
                continue
            candidates = [
                dmy
                for k, split in matching.DATE_SPLITS[len(token)]
                if (numbers := _numbers(token, k, split))
                and (dmy := matching.map_ints_to_dmy(numbers))
            ]
            if not candidates:
                continue
            # the year closest to zxcvbn's reference year (the first of equals)
            best = min(candidates, key=lambda dmy: abs(dmy["year"] - scoring.REFERENCE_YEAR))
            found.append(_date(token, i, j, "", best))
    for i in range(length - 5):  # with separators, 6 to 10 characters: '1/1/91', '11.11.1991'
        for j in range(i + 5, min(i + 10, length)):
            token = password[i : j + 1]
            parts = _MAYBE_DATE_WITH_SEPARATOR.match(token)
            if not parts:
                continue
            dmy = matching.map_ints_to_dmy(
                [int(parts.group(1)), int(parts.group(3)), int(parts.group(4))]
            )
            if dmy:
                found.append(_date(token, i, j, parts.group(2), dmy))
    kept: list[Match] = []
    furthest = -1
    for match in sorted(found, key=lambda match: (match["i"], -match["j"])):
        if furthest < match["j"]:  # no candidate seen so far contains this one
            kept.append(match)
        furthest = max(furthest, match["j"])
    return sorted(kept, key=_position)


def _numbers(token: str, k: int, split: int) -> list[int] | None:
    """The token's three numbers split at k and `split`, or None where one is not a number.

    zxcvbn's pattern ends in '$', which also matches before a final line break, so '12345\n'
    is a candidate whose last part is '\n' alone: zxcvbn raises ValueError on it (and so on any
    password with five digits and a line break). Here that split is simply no date.
    """
    try:
        return [int(token[0:k]), int(token[k:split]), int(token[split:])]
    except ValueError:
        return None


def _date(token: str, i: int, j: int, separator: str, dmy: dict[str, int]) -> Match:
    return {
        "pattern": "date",
        "token": token,
        "i": i,
        "j": j,
        "separator": separator,
        "year": dmy["year"],
        "month": dmy["month"],
        "day": dmy["day"],
    }


def _first_time(
    seen: set[tuple[int, int, str, bool]] | None, key: tuple[int, int, str, bool]
) -> bool:
    """Whether `key` is new to `seen` (always, without a `seen`); records it."""
    if seen is None:
        return True
    if key in seen:
        return False
    seen.add(key)
    return True


def _next_positions(password: str, chars: Iterable[str]) -> list[int]:
    """For each index i, the first index >= i holding one of `chars` (len(password) if none)."""
    wanted = set(chars)
    result = [0] * len(password)
    next_hit = len(password)
    for i in range(len(password) - 1, -1, -1):
        if password[i] in wanted:
            next_hit = i
        result[i] = next_hit
    return result


def search(password: str, matches: Iterable[Match]) -> tuple[Decimal, list[Match]]:
    """zxcvbn's search for the cheapest sequence of patterns, below ENOUGH guesses.

    This follows zxcvbn's `scoring.most_guessable_match_sequence` step for step (the same
    candidates in the same order, priced by zxcvbn's own `estimate_guesses`), but drops every
    candidate that already costs ENOUGH guesses or more: extending a sequence never makes it
    cheaper, so such a candidate can only end in score 4. That bounds a sequence to three patterns
    and a bruteforce stretch to ten characters, and makes the search linear in the length, where
    zxcvbn's is cubic ('iiii...', 'i' being a word, costs it 50 ms at 32 characters).

    Returns the guesses and the sequence, or (ENOUGH, []) when every sequence costs that much.
    """
    from zxcvbn import scoring

    n = len(password)
    by_end: list[list[Match]] = [[] for _ in range(n)]
    for match in matches:
        by_end[match["j"]].append(match)
    for ending in by_end:
        ending.sort(key=lambda match: match["i"])
    # per end position: sequence length -> (total guesses, product of guesses, last match)
    best: list[dict[int, tuple[Decimal, Decimal, Match]]] = [{} for _ in range(n)]

    def update(match: Match, length: int) -> None:
        pi: Decimal = scoring.estimate_guesses(match, password)
        if length > 1:
            pi = pi * best[match["i"] - 1][length - 1][1]
        g = factorial(length) * pi
        g += scoring.MIN_GUESSES_BEFORE_GROWING_SEQUENCE ** (length - 1)
        if g >= ENOUGH:
            return
        entries = best[match["j"]]
        for competing_length, (competing_g, _, _) in entries.items():
            if competing_length <= length and competing_g <= g:
                return
        entries[length] = (g, pi, match)

    def bruteforce(i: int, j: int) -> Match:
        return {"pattern": "bruteforce", "token": password[i : j + 1], "i": i, "j": j}

    for k in range(n):
        for match in by_end[k]:
            if match["i"] == 0:
                update(match, 1)
                continue
            for length in list(best[match["i"] - 1]):
                if length < _MAX_PATTERNS:
                    update(match, length + 1)
        # zxcvbn's bruteforce_update(k), less the stretches that cost ENOUGH on their own
        if k < _MAX_BRUTEFORCE:
            update(bruteforce(0, k), 1)
        for i in range(max(1, k + 1 - _MAX_BRUTEFORCE), k + 1):
            candidate = bruteforce(i, k)
            for length, (_, _, last) in list(best[i - 1].items()):
                if last["pattern"] != "bruteforce" and length < _MAX_PATTERNS:
                    update(candidate, length + 1)

    return _unwind(best)


def _unwind(
    best: list[dict[int, tuple[Decimal, Decimal, Match]]],
) -> tuple[Decimal, list[Match]]:
    """zxcvbn's unwind: the cheapest sequence reaching the end (the first of equals).

    Starts from the cheapest entry at the last position and goes back through each entry's last
    match; (ENOUGH, []) when no sequence below ENOUGH reaches the end.
    """
    if not best or not best[-1]:
        return Decimal(ENOUGH), []
    length, (total, _, _) = min(best[-1].items(), key=lambda item: item[1][0])
    sequence: list[Match] = []
    k = len(best) - 1
    while k >= 0:
        match = best[k][length][2]
        sequence.insert(0, match)
        k, length = match["i"] - 1, length - 1
    return total, sequence


def estimate(
    password: str,
    user_inputs: Sequence[str],
    *,
    read_length: int = READ_LENGTH,
    l33t_limit: int = MAX_L33T_SUBSTITUTIONS,
) -> Estimate:
    """zxcvbn's estimate of `password`'s first `read_length` characters, with `user_inputs`.

    `user_inputs` are lowercased as zxcvbn does; their order sets their rank.
    """
    from zxcvbn import feedback, time_estimates

    password = password[:read_length]
    if not password:  # zxcvbn itself raises on ""; its feedback for "nothing yet" fits
        empty: dict[str, Any] = feedback.get_feedback(0, [])
        return Estimate(0, Decimal(1), empty["warning"], tuple(empty["suggestions"]))
    matcher = _Matcher(_shared_dictionaries(), [value.lower() for value in user_inputs], l33t_limit)
    guesses, sequence = search(password, matcher.omnimatch(password))
    score: int = time_estimates.guesses_to_score(guesses)
    if score > 2:  # zxcvbn gives no feedback from score 3 on
        return Estimate(score, guesses, "", ())
    advice: dict[str, Any] = feedback.get_feedback(score, sequence)
    return Estimate(score, guesses, advice["warning"], tuple(advice["suggestions"]))
