"""`RegistrationService.warm_up`: loads what a first registration would, touches no storage.

Each check runs in a fresh interpreter: in this one, earlier tests have loaded it all already.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(script: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_warm_up_loads_the_catalogues_and_the_password_dictionaries_without_storage() -> None:
    out = _run(
        """
        from regflow import RegistrationService, _i18n
        from regflow.bootstrap import demo_ports
        from regflow.policy import _strength

        class Refuses:  # has every method a store has; each fails when called
            def __getattr__(self, name):
                def refuse(*args, **kwargs):
                    raise AssertionError(f"warm_up called a store's {name}")

                return refuse

        class NoStorage:
            accounts = outbox = login_attempts = flows = Refuses()

            def unit_of_work(self):
                raise AssertionError("warm_up opened a unit of work")

        service = RegistrationService(demo_ports(), NoStorage())
        before = (_i18n.catalogue.cache_info().currsize, _strength._dictionaries is None)
        service.warm_up()
        after = (_i18n.catalogue.cache_info().currsize, _strength._dictionaries is None)
        print(before, after)
        """
    )
    # 3 domains (regflow, regflow_policy, regflow_ui) x 3 languages
    assert out == "(0, True) (9, False)"
