"""The strength estimate: zxcvbn's scores and feedback, within bounds, safe across threads."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import random
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from zxcvbn import feedback as zxcvbn_feedback
from zxcvbn import matching, zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from regflow.policy import PasswordPolicy, PersonalContext, _messages, _rules, _strength

ANNA = PersonalContext(
    given_names="Anna-Liisa",
    family_name="Virtanen",
    email="anna-liisa.virtanen@example.fi",
    personal_id="131052-308T",
    birth_date=dt.date(1952, 10, 13),
)
ANNA_INPUTS = _rules.user_inputs(ANNA, ())
UNBOUNDED = {"read_length": 1000, "l33t_limit": 10_000}


def zxcvbn_verdict(password: str, user_inputs: list[str]) -> tuple[int, str, tuple[str, ...]]:
    """zxcvbn's own score, warning and suggestions."""
    result = zxcvbn(password, user_inputs=user_inputs)
    advice = result["feedback"]
    return result["score"], advice["warning"], tuple(advice["suggestions"])


def our_verdict(password: str, user_inputs: list[str], **bounds: int) -> tuple[Any, ...]:
    """This package's score, warning and suggestions (English, as zxcvbn gives them)."""
    estimate = _strength.estimate(password, user_inputs, **bounds)
    return estimate.score, estimate.warning, estimate.suggestions


def ordinary_passwords() -> Iterator[str]:
    """Passwords people choose: common ones, passphrases, words with years and l33t, names."""
    rng = random.Random(20261127)
    yield from FREQUENCY_LISTS["passwords"][::150]
    words = FREQUENCY_LISTS["english_wikipedia"][:8000]
    names = FREQUENCY_LISTS["female_names"][:300] + FREQUENCY_LISTS["surnames"][:300]
    l33t = {"a": "4@", "e": "3", "i": "1!", "o": "0", "s": "$5", "t": "7+"}
    for _ in range(150):
        chosen = [rng.choice(words) for _ in range(rng.randint(2, 5))]
        chosen = [w.capitalize() if rng.random() < 0.3 else w for w in chosen]
        phrase = rng.choice(["", " ", "-", "."]).join(chosen)
        if rng.random() < 0.3:
            phrase += str(rng.randint(0, 2030))
        yield phrase[:64]
    for _ in range(80):
        word = rng.choice(names + words).capitalize()
        word = "".join(rng.choice(l33t[c]) if c in l33t and rng.random() < 0.5 else c for c in word)
        yield word + rng.choice(["", "!", "1", "123", str(rng.randint(1950, 2030))])
    yield from ("Virtuoso2024x", "AnnaLiisa1952", "virtanen131052", "Kesä2024!")


def test_ordinary_passwords_get_zxcvbns_score_and_feedback() -> None:
    """On about 500 ordinary passwords the bounded estimate equals zxcvbn's, feedback included."""
    passwords = list(ordinary_passwords())
    assert len(passwords) > 400
    differing = [
        password
        for password in passwords
        if our_verdict(password, ANNA_INPUTS) != zxcvbn_verdict(password, ANNA_INPUTS)
    ]
    assert differing == []


ADVERSARIAL_ALPHABETS = [
    "iI1l|!",
    "ab",
    "0123456789",
    "12./- ",
    "4@8({[<3691!|7$5+%2",
    "qwertyasdf",
    "passwordnaie123",
    "\u0130\u0131iI",  # dotted capital I lowercases to two characters
    "aäöÅ -",
    "an4@l1!s$5",  # her names, l33t: words both listed and personal
    "abcxyz",
    "19 90-01",
]


@given(
    st.sampled_from(ADVERSARIAL_ALPHABETS).flatmap(
        lambda alphabet: st.text(alphabet=alphabet, min_size=1, max_size=11)
    )
)
def test_unbounded_the_estimate_is_zxcvbns_on_hostile_strings(password: str) -> None:
    """Repeats, sequences, dates, keyboard runs, l33t, dotted I: the same score and feedback."""
    assert our_verdict(password, ANNA_INPUTS, **UNBOUNDED) == zxcvbn_verdict(password, ANNA_INPUTS)


@given(st.text(max_size=30), st.lists(st.text(max_size=12), max_size=4))
def test_dictionary_matching_returns_zxcvbns_matches(password: str, inputs: list[str]) -> None:
    """The merged-table dictionary matcher reports zxcvbn's matches, in zxcvbn's order."""
    lowered = [value.lower() for value in inputs]
    ours = _strength._Matcher(_strength._shared_dictionaries(), lowered, 16)
    ranked = dict(matching.RANKED_DICTIONARIES)  # a copy: zxcvbn's own is shared state
    ranked["user_inputs"] = matching.build_ranked_dict(lowered)
    assert ours.dictionary_match(password) == matching.dictionary_match(password, ranked)
    assert ours.reverse_dictionary_match(password) == matching.reverse_dictionary_match(
        password, ranked
    )


@given(st.text(alphabet="0123456789011992 ./-_\\\n\t\u0661x", max_size=40))
def test_date_matching_returns_zxcvbns_matches(password: str) -> None:
    """The date matcher with the O(m log m) filter reports zxcvbn's dates, in zxcvbn's order
    (and does not raise where zxcvbn does: five digits and a line break)."""
    ours = _strength.date_match(password)
    try:
        theirs = matching.date_match(password)
    except ValueError:  # zxcvbn's only way to fail here: '$' admits a final line break
        assert "\n" in password
        return
    assert ours == theirs


def test_five_digits_and_a_line_break_do_not_break_the_check() -> None:
    """zxcvbn raises on '12345\n'; the policy rates it (the break ends the date candidates)."""
    with pytest.raises(ValueError, match="invalid literal"):
        zxcvbn("Abcdefgh12345\n")
    result = PasswordPolicy.helen().check("Abcdefgh12345\n", PersonalContext())
    assert 0 <= result.strength.score <= 4


L33T_CHARACTERS = sorted({char for chars in matching.L33T_TABLE.values() for char in chars})


@given(st.sets(st.sampled_from(L33T_CHARACTERS)))
def test_l33t_tables_are_zxcvbns_up_to_the_limit(chars: set[str]) -> None:
    """Up to the limit the substitution tables are zxcvbn's, in order; beyond it, the first."""
    table = matching.relevant_l33t_subtable("".join(sorted(chars)), matching.L33T_TABLE)
    theirs = matching.enumerate_l33t_subs(table)
    limit = _strength.MAX_L33T_SUBSTITUTIONS
    ours = _strength.bounded_l33t_subs(table, limit)
    assert len(ours) <= limit
    if len(theirs) <= limit:
        assert ours == theirs


@pytest.mark.parametrize("password", ["4nn4", "4nn4-L11s4", "p4ssw0rd", "v1rt4n3n!"])
def test_l33t_words_that_are_both_listed_and_personal_count_as_both(password: str) -> None:
    """'anna' is a listed name and her user input: l33t matches for both, zxcvbn's guesses."""
    inputs = ["anna", "liisa", "password", "virtanen"]
    reference = zxcvbn(password, user_inputs=inputs)
    estimate = _strength.estimate(password, inputs)
    assert (estimate.score, estimate.guesses) == (reference["score"], reference["guesses"])


def l33t_spellings() -> Iterator[str]:
    """Listed words with one or two l33t characters at the first, a middle and the last index,
    alone and between other characters: where the matcher may skip a start, and where not."""
    rng = random.Random(20261207)
    spell = matching.L33T_TABLE
    words = [w for w in FREQUENCY_LISTS["passwords"][:3000] if w.isalpha() and len(w) >= 4]
    for word in rng.sample(words, 60):
        spots = [i for i, letter in enumerate(word) if letter in spell]
        for chosen in ([spots[0]], [spots[-1]], spots[len(spots) // 2 : len(spots) // 2 + 2]):
            if not spots:
                break
            letters = list(word)
            for i in chosen:
                letters[i] = rng.choice(spell[word[i]])
            yield "".join(letters)
            yield "x" + "".join(letters) + "9"


def l33t_matches(matches: list[Any]) -> list[tuple[Any, ...]]:
    """Each l33t match once, as (i, j, token, word, list, substitutions)."""
    return sorted(
        {
            (
                m["i"],
                m["j"],
                m["token"],
                m["matched_word"],
                m["dictionary_name"],
                *sorted(m["sub"].items()),
            )
            for m in matches
        }
    )


def test_l33t_matching_finds_zxcvbns_words_wherever_the_substitution_is() -> None:
    """The matcher skips the starts from which no substituted character is reachable
    (`_next_positions`); on words substituted at their first, middle and last letters it
    still reports every l33t match zxcvbn reports (each once)."""
    ours = _strength._Matcher(_strength._shared_dictionaries(), ANNA_INPUTS, 10_000)
    ranked = dict(matching.RANKED_DICTIONARIES)  # a copy: zxcvbn's own is shared state
    ranked["user_inputs"] = matching.build_ranked_dict(ANNA_INPUTS)
    passwords = list(l33t_spellings())
    assert len(passwords) > 200
    differing = [
        password
        for password in passwords
        if l33t_matches(ours.l33t_match(password))
        != l33t_matches(matching.l33t_match(password, ranked))
    ]
    assert differing == []


def test_next_positions_names_the_first_wanted_index_from_each_start() -> None:
    """For each start, the first index at or after it holding a wanted character; the length
    where none follows."""
    assert _strength._next_positions("a4bb0c", "40") == [1, 1, 4, 4, 4, 6]
    assert _strength._next_positions("4", "4") == [0]
    assert _strength._next_positions("ab", "4") == [2, 2]


def test_the_l33t_attack_string_is_capped() -> None:
    """The 19 l33t characters give zxcvbn 736 tables; the estimate tries 16."""
    attack = "4@8({[<3691!|7$5+%2"
    table = matching.relevant_l33t_subtable(attack, matching.L33T_TABLE)
    assert len(matching.enumerate_l33t_subs(table)) == 736
    assert len(_strength.bounded_l33t_subs(table, _strength.MAX_L33T_SUBSTITUTIONS)) == 16
    assert 0 <= _strength.estimate(attack * 4, ANNA_INPUTS).score <= 4


def test_a_long_password_is_rated_by_its_first_characters() -> None:
    """Past READ_LENGTH characters the estimate is that of the beginning."""
    head = "correct horse battery staple " * 2
    head = head[: _strength.READ_LENGTH]
    assert _strength.estimate(head + "aaaa" * 50, []) == _strength.estimate(head, [])


def test_the_search_keeps_only_short_cheap_sequences_for_ones() -> None:
    """'iii...' (one-letter words, cubic for zxcvbn) is rated like zxcvbn rates it."""
    password = "i" * 24
    assert our_verdict(password, []) == zxcvbn_verdict(password, [])


def test_feedback_is_translated() -> None:
    """zxcvbn's warning and suggestions come in Swedish and Finnish too."""
    policy = PasswordPolicy.helen()
    swedish = policy.check("Qwerty1234", PersonalContext(), language="sv").strength.feedback
    finnish = policy.check("Qwerty1234", PersonalContext(), language="fi").strength.feedback
    assert swedish.warning == "Det här är ett mycket vanligt lösenord."
    assert finnish.warning == "Tämä on hyvin yleinen salasana."
    assert "Lägg till ett eller två ord. Ovanliga ord är bättre." in swedish.suggestions


def test_advice_against_the_policys_rules_is_left_out() -> None:
    """'No need for digits or uppercase' is not given where the guide requires them."""
    helen = PasswordPolicy.helen().check("", PersonalContext()).strength.feedback
    asvs = PasswordPolicy.asvs().check("", PersonalContext()).strength.feedback
    assert _messages.NO_NEED_FOR_SYMBOLS not in helen.suggestions
    assert _messages.NO_NEED_FOR_SYMBOLS in asvs.suggestions


def zxcvbn_feedback_sentences() -> set[str]:
    """Every string zxcvbn's feedback module passes to gettext's `_`."""
    tree = ast.parse(inspect.getsource(zxcvbn_feedback))
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "_"
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


@pytest.mark.parametrize("language", ["sv", "fi"])
def test_every_zxcvbn_feedback_sentence_has_a_translation(language: str) -> None:
    """The catalogue covers all of zxcvbn's feedback sentences, in both languages."""
    sentences = zxcvbn_feedback_sentences()
    assert sentences == set(_messages.ZXCVBN_FEEDBACK)
    untranslated = [s for s in sentences if _messages.feedback_text(s, language) == s]
    assert untranslated == []


def test_user_inputs_are_the_persons_data_in_a_canonical_order() -> None:
    """Names, tokens, email and its parts, id and birth date; lowercased, deduplicated, sorted."""
    assert sorted(set(ANNA_INPUTS)) == ANNA_INPUTS
    for word in ("anna-liisa", "liisa", "virtanen", "anna-liisa.virtanen@example.fi"):
        assert word in ANNA_INPUTS
    for word in ("example.fi", "131052-308t", "1952-10-13", "13.10.1952", "131052"):
        assert word in ANNA_INPUTS


def test_checks_give_the_right_answer_from_many_threads_at_once() -> None:
    """64 people checked concurrently on 8 threads (with plain zxcvbn calls interleaved, which
    rewrite zxcvbn's global user inputs) get exactly the results of one-by-one checks."""
    rng = random.Random(7)
    policy = PasswordPolicy.asvs(min_length=8)
    jobs = []
    for number in range(64):
        surname = "".join(rng.choice("bcdfghjklmnpqrstvwxz") for _ in range(9)).capitalize()
        context = PersonalContext(family_name=surname, email=f"p{number}@example.org")
        jobs.append((context, f"{surname}{number % 10}!"))  # weak only with her own surname
    expected = [policy.check(password, context) for context, password in jobs]
    assert all("too_weak" in [v.code for v in result.violations] for result in expected)
    stranger = PersonalContext(family_name="Virtanen")
    assert all(policy.check(password, stranger).ok for _, password in jobs)

    stop = threading.Event()

    def meddle() -> None:  # a neighbour using zxcvbn directly, with its own user inputs
        while not stop.is_set():
            zxcvbn("Meddling1", user_inputs=["someone", "else"])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads as often as possible
    try:
        meddler = threading.Thread(target=meddle)
        meddler.start()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for _ in range(3):
                results = list(pool.map(lambda job: policy.check(job[1], job[0]), jobs))
                assert results == expected
    finally:
        stop.set()
        meddler.join()
        sys.setswitchinterval(interval)


def test_the_birth_date_is_given_in_every_usual_form() -> None:
    """The strength estimate's user inputs hold the birth date as ISO, as d.m.yyyy, and as the
    digits ddmmyyyy, ddmmyy (the personal identity code's) and yyyymmdd."""
    forms = {"1952-10-13", "13.10.1952", "13101952", "131052", "19521013"}
    assert forms <= set(ANNA_INPUTS)
    early = _rules.user_inputs(PersonalContext(birth_date=dt.date(2003, 2, 1)), ())
    assert {"2003-02-01", "1.2.2003", "01022003", "010203", "20030201"} <= set(early)
