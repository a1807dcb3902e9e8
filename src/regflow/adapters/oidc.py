"""Bank identification through an OpenID Connect identification broker (Finnish Trust Network).

In Finland a service reaches the banks' identification through a broker that speaks the FTN
OpenID Connect profile (Traficom recommendation 213/2023 S): signed request objects,
`private_key_jwt` client authentication and encrypted ID tokens. `OidcBankIdentity` implements
the `BankIdentity` port for such a broker; it needs the `oidc` extra (`joserfc`, `httpx`).

    from regflow.adapters.oidc import (
        CLAIMS_IDURA, BankMethod, ClientKeys, OidcBankIdentity, OidcConfig,
    )

    config = OidcConfig(
        issuer="https://example.idura.broker",
        client_id="urn:my:application:identifier:1234",
        redirect_uri="https://eservices.example.fi/identify/callback",
        keys=ClientKeys.from_files("/etc/regflow/client-jwks.json"),
        banks=[BankMethod("nordea", "Nordea", acr_values=["urn:grn:authn:fi:bank-id"])],
        claims=CLAIMS_IDURA,
    )
    bank = OidcBankIdentity(config)   # no I/O until the first identification

The README section "Connecting to your identification broker" has an example for each preset.
"""

from __future__ import annotations

from regflow.adapters._oidc._config import (
    CLAIM_PRESETS,
    CLAIMS_IDURA,
    CLAIMS_OP,
    CLAIMS_SIGNICAT,
    CLAIMS_TELIA,
    FTN_ACR_VALUES,
    FTN_LOA_HIGH,
    FTN_LOA_SUBSTANTIAL,
    BankMethod,
    ClaimMapping,
    OidcConfig,
)
from regflow.adapters._oidc._identity import CODE_VERIFIER, OidcBankIdentity
from regflow.adapters._oidc._keys import ENV_CLIENT_JWKS, ClientKeys

__all__ = [
    "CLAIMS_IDURA",
    "CLAIMS_OP",
    "CLAIMS_SIGNICAT",
    "CLAIMS_TELIA",
    "CLAIM_PRESETS",
    "CODE_VERIFIER",
    "ENV_CLIENT_JWKS",
    "FTN_ACR_VALUES",
    "FTN_LOA_HIGH",
    "FTN_LOA_SUBSTANTIAL",
    "BankMethod",
    "ClaimMapping",
    "ClientKeys",
    "OidcBankIdentity",
    "OidcConfig",
]
