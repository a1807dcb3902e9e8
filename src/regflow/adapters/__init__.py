"""Adapters for regflow's ports: `memory` (fakes for tests and demos), and real ones.

Each adapter lives in its own module and is imported only when used, so an installation needs
only the dependencies of the adapters it uses (`regflow[sql]`, `regflow[oidc]`).
"""
