from regflow.adapters._oidc import _identity


def test_smoke(oidc_broker, oidc_bank, monkeypatch):
    orig = _identity.OidcBankIdentity._check_claims

    def spy(self, claims, expected):
        print(claims)
        return orig(self, claims, expected)

    monkeypatch.setattr(_identity.OidcBankIdentity, "_check_claims", spy)
    r = oidc_bank.begin("nordea", flow_id="f1", language="fi")
    cb = oidc_broker.login(r)
    print(cb.params)
    p = oidc_bank.complete(cb, r)
    print(p)
