"""Line-based terminal input and output, for a person at a terminal or a script piping answers.

At a terminal, questions are read with `input()` and passwords with `getpass` (not echoed). With
piped input there is nobody to hide the password from, and `getpass` would read the controlling
terminal instead of the pipe (or warn that it cannot hide the input), so both read a line from
stdin; the answers are echoed (passwords as nothing) to keep the transcript readable.
"""

from __future__ import annotations

import getpass
import shutil
import sys
import textwrap


class Terminal:
    """Asks questions and prints lines on the process's stdin and stdout."""

    def __init__(self) -> None:
        self.interactive = sys.stdin.isatty()

    def say(self, text: str = "") -> None:
        """Print one line (or several, when `text` holds newlines)."""
        print(text, flush=True)

    def note(self, text: str) -> None:
        """Print a paragraph of prose, wrapped to the terminal's width (at most 88 columns)."""
        width = min(shutil.get_terminal_size().columns, 89) - 1
        print(textwrap.fill(text, width=width, break_on_hyphens=False), flush=True)

    def ask(self, prompt: str) -> str:
        """One answer, without its line ending; raises `EOFError` when input has ended."""
        if self.interactive:
            return input(prompt)
        return self._read_piped(prompt, echo=True)

    def secret(self, prompt: str) -> str:
        """A password: hidden at a terminal, exactly as typed (spaces are kept)."""
        if self.interactive:
            return getpass.getpass(prompt)
        return self._read_piped(prompt, echo=False)

    @staticmethod
    def _read_piped(prompt: str, *, echo: bool) -> str:
        sys.stdout.write(prompt)
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        answer = line.removesuffix("\n").removesuffix("\r")
        sys.stdout.write((answer if echo else "") + "\n")
        sys.stdout.flush()
        return answer
