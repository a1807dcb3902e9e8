"""The OIDC bank-identification adapter's private modules; the public API is in `oidc.py`."""
