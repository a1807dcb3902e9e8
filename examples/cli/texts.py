"""The terminal's own texts in Swedish, Finnish and English: one dict per language.

Only what this example says itself is here. Everything the library says (error messages, field
errors, the password rules, the confirmation email) comes from regflow, already localised.
"""

from __future__ import annotations

from typing import Final

EN: Final[dict[str, str]] = {
    "title": "Helen e-services: self-service registration",
    "demo_note": (
        "Demo: a simulated bank and in-memory demo customers; nothing leaves this terminal. "
        "Ctrl-C stops."
    ),
    "storage_database": (
        "Accounts and registrations are kept in {database}, so whoever registered in an earlier "
        "run is already registered now."
    ),
    "reset_hint": "To start with an empty database, run the demo with --reset.",
    "storage_memory": "Accounts and registrations are kept in memory and forgotten at the end.",
    "start_question": "Register for the e-services as a",
    "consumer": "Consumer customer",
    "business": "Business customer",
    "choice": "Choice",
    "invalid_choice": "Please answer with one of: {choices}.",
    "cancel": "Cancel the registration",
    "phase1": "Phase 1 of 4: Identify yourself. Choose your bank",
    "bank_not_listed": "My bank is not listed",
    "failed_attempts": "Failed identifications so far: {count} of {limit}.",
    "bank_page": "Simulated bank: {bank}",
    "bank_redirect": "(the service sent you to {url})",
    "bank_people": "Identify as one of the demo people, or type any personal identity code:",
    "bank_cancel": "Cancel at the bank",
    "bank_error": "The bank reports an error",
    "bank_back": "Back to the bank list",
    "bank_prompt": "Choice or personal identity code",
    "hint_completes": "registration completes",
    "hint_district_heating": "completes; district heating contract not linked",
    "hint_incomplete_contract_data": "contract data incomplete: customer service",
    "hint_customer_not_found": "no customer record: customer service",
    "hint_already_registered": "already has an account",
    "identified": "Identified: {name}",
    "phase2": "Phase 2 of 4: Check your personal identity code",
    "personal_id": "Personal identity code: {code}",
    "next": "Next",
    "phase3": "Phase 3 of 4: User details",
    "details_intro": (
        "The details come from our customer register. Press Enter to keep a value, type a new "
        "one to change it, or '-' to clear it. * = required."
    ),
    "username_hint": "your username",
    "yes_no": "y/n",
    "yes_words": "y,yes",
    "no_words": "n,no",
    "answer_yes_no": "Please answer y or n.",
    "password_rules": "Password requirements:",
    "password_prompt": "Password (hidden)",
    "password_again": "Password again",
    "password_mismatch": "The passwords did not match. Please type them again.",
    "fix": "Please correct the following:",
    "phase4": "Phase 4 of 4: Confirmation. Check your details",
    "review_note": (
        "These details are saved in your e-services profile only; Helen's customer register is "
        "not changed. To change the register, contact customer service."
    ),
    "approve": "Approve",
    "edit": "Edit",
    "completed": "Registration complete.",
    "username": "Your username: {username}",
    "changed_fields": (
        "Your e-services profile differs from the customer register in: {fields}. The register "
        "itself is not changed; to update it, contact customer service."
    ),
    "warning_district_heating_not_linked": (
        "Your district heating contract could not be linked to your account automatically."
    ),
    "warning_contract_not_linked": "A contract could not be linked to your account automatically.",
    "contact_customer_service": "Customer service",
    "contact_district_heating_advisory": "District heating advisory",
    "email_heading": "Confirmation email (what would be sent):",
    "email_to": "To",
    "email_subject": "Subject",
    "continue": "Continue to service selection.",
    "customer_service_heading": "The registration cannot continue as self-service.",
    "reason_bank_not_listed": "Your bank is not among those available for identification.",
    "reason_customer_not_found": "No customer record was found for your personal identity code.",
    "reason_incomplete_contract_data": (
        "Your contract data lacks the information needed to identify you."
    ),
    "reason_identification_failed": (
        "Identification with your bank did not succeed after several attempts."
    ),
    "registered_earlier": (
        "This demo keeps its accounts between runs: this person registered in an earlier run."
    ),
    "cancelled": "The registration was cancelled. None of your details were saved.",
    "interrupted": "Stopped. The registration was cancelled; none of your details were saved.",
    "input_ended": "Input ended. The registration was cancelled; none of your details were saved.",
}

FI: Final[dict[str, str]] = {
    "title": "Helenin sähköiset palvelut: rekisteröityminen",
    "demo_note": (
        "Demo: simuloitu pankki ja muistissa olevat esimerkkiasiakkaat; mitään ei lähetetä "
        "tästä päätteestä. Ctrl-C lopettaa."
    ),
    "storage_database": (
        "Tilit ja rekisteröitymiset tallennetaan tietokantaan {database}, joten aiemmalla "
        "kerralla rekisteröitynyt on nyt jo rekisteröitynyt."
    ),
    "reset_hint": "Aloita tyhjästä tietokannasta käynnistämällä demo valitsimella --reset.",
    "storage_memory": "Tilit ja rekisteröitymiset ovat vain muistissa ja unohtuvat lopuksi.",
    "start_question": "Rekisteröidy sähköisiin palveluihin",
    "consumer": "Kuluttaja-asiakkaana",
    "business": "Yritysasiakkaana",
    "choice": "Valinta",
    "invalid_choice": "Valitse jokin seuraavista: {choices}.",
    "cancel": "Keskeytä rekisteröityminen",
    "phase1": "Vaihe 1/4: Tunnistaudu. Valitse pankkisi",
    "bank_not_listed": "Pankkini ei ole listalla",
    "failed_attempts": "Epäonnistuneita tunnistautumisia: {count}/{limit}.",
    "bank_page": "Simuloitu pankki: {bank}",
    "bank_redirect": "(palvelu ohjasi sinut osoitteeseen {url})",
    "bank_people": (
        "Tunnistaudu jonakin esimerkkihenkilönä tai kirjoita mikä tahansa henkilötunnus:"
    ),
    "bank_cancel": "Keskeytä pankissa",
    "bank_error": "Pankki ilmoittaa virheestä",
    "bank_back": "Takaisin pankkilistaan",
    "bank_prompt": "Valinta tai henkilötunnus",
    "hint_completes": "rekisteröityminen onnistuu",
    "hint_district_heating": "onnistuu; kaukolämpösopimusta ei liitetä",
    "hint_incomplete_contract_data": "sopimustiedot puutteelliset: asiakaspalvelu",
    "hint_customer_not_found": "ei asiakastietoja: asiakaspalvelu",
    "hint_already_registered": "on jo rekisteröitynyt",
    "identified": "Tunnistettu: {name}",
    "phase2": "Vaihe 2/4: Tarkista henkilötunnuksesi",
    "personal_id": "Henkilötunnus: {code}",
    "next": "Seuraava",
    "phase3": "Vaihe 3/4: Käyttäjätiedot",
    "details_intro": (
        "Tiedot on haettu asiakasrekisteristämme. Paina Enter säilyttääksesi arvon, kirjoita "
        "uusi muuttaaksesi sitä tai '-' tyhjentääksesi sen. * = pakollinen."
    ),
    "username_hint": "käyttäjätunnuksesi",
    "yes_no": "k/e",
    "yes_words": "k,kyllä",
    "no_words": "e,ei",
    "answer_yes_no": "Vastaa k tai e.",
    "password_rules": "Salasanan vaatimukset:",
    "password_prompt": "Salasana (ei näy)",
    "password_again": "Salasana uudelleen",
    "password_mismatch": "Salasanat eivät täsmänneet. Kirjoita ne uudelleen.",
    "fix": "Korjaa seuraavat kohdat:",
    "phase4": "Vaihe 4/4: Vahvistus. Tarkista tietosi",
    "review_note": (
        "Tiedot tallennetaan vain sähköisten palvelujen profiiliisi; Helenin asiakasrekisteri "
        "ei muutu. Rekisterin tietoja voit muuttaa asiakaspalvelun kautta."
    ),
    "approve": "Hyväksy",
    "edit": "Muokkaa",
    "completed": "Rekisteröityminen on valmis.",
    "username": "Käyttäjätunnuksesi: {username}",
    "changed_fields": (
        "Sähköisten palvelujen profiilisi poikkeaa asiakasrekisteristä näiltä osin: {fields}. "
        "Itse rekisteri ei muutu; voit päivittää sen asiakaspalvelun kautta."
    ),
    "warning_district_heating_not_linked": (
        "Kaukolämpösopimustasi ei voitu liittää tiliisi automaattisesti."
    ),
    "warning_contract_not_linked": "Sopimusta ei voitu liittää tiliisi automaattisesti.",
    "contact_customer_service": "Asiakaspalvelu",
    "contact_district_heating_advisory": "Kaukolämmön neuvonta",
    "email_heading": "Vahvistussähköposti (mitä lähetettäisiin):",
    "email_to": "Vastaanottaja",
    "email_subject": "Aihe",
    "continue": "Jatka palvelun valintaan.",
    "customer_service_heading": "Rekisteröityminen ei voi jatkua itsepalveluna.",
    "reason_bank_not_listed": "Pankkisi ei ole tunnistautumiseen käytettävissä olevien joukossa.",
    "reason_customer_not_found": "Henkilötunnuksellasi ei löytynyt asiakastietoja.",
    "reason_incomplete_contract_data": (
        "Sopimustiedoistasi puuttuu tunnistamiseen tarvittavia tietoja."
    ),
    "reason_identification_failed": (
        "Tunnistautuminen pankissa ei onnistunut useista yrityksistä huolimatta."
    ),
    "registered_earlier": (
        "Tämä demo säilyttää tilit kertojen välillä: tämä henkilö rekisteröityi aiemmalla kerralla."
    ),
    "cancelled": "Rekisteröityminen keskeytettiin. Tietojasi ei tallennettu.",
    "interrupted": "Lopetettu. Rekisteröityminen keskeytettiin; tietojasi ei tallennettu.",
    "input_ended": "Syöte loppui. Rekisteröityminen keskeytettiin; tietojasi ei tallennettu.",
}

SV: Final[dict[str, str]] = {
    "title": "Helens e-tjänster: registrering",
    "demo_note": (
        "Demo: en simulerad bank och demokunder i minnet; ingenting lämnar den här terminalen. "
        "Ctrl-C avbryter."
    ),
    "storage_database": (
        "Konton och registreringar sparas i {database}, så den som registrerade sig under en "
        "tidigare körning är redan registrerad nu."
    ),
    "reset_hint": "Starta demon med --reset för att börja med en tom databas.",
    "storage_memory": "Konton och registreringar finns bara i minnet och glöms i slutet.",
    "start_question": "Registrera dig för e-tjänsterna som",
    "consumer": "Konsumentkund",
    "business": "Företagskund",
    "choice": "Val",
    "invalid_choice": "Välj ett av följande: {choices}.",
    "cancel": "Avbryt registreringen",
    "phase1": "Steg 1/4: Identifiera dig. Välj din bank",
    "bank_not_listed": "Min bank finns inte på listan",
    "failed_attempts": "Misslyckade identifieringar: {count} av {limit}.",
    "bank_page": "Simulerad bank: {bank}",
    "bank_redirect": "(tjänsten skickade dig till {url})",
    "bank_people": "Identifiera dig som en av demopersonerna eller skriv valfri personbeteckning:",
    "bank_cancel": "Avbryt i banken",
    "bank_error": "Banken rapporterar ett fel",
    "bank_back": "Tillbaka till listan över banker",
    "bank_prompt": "Val eller personbeteckning",
    "hint_completes": "registreringen lyckas",
    "hint_district_heating": "lyckas; fjärrvärmeavtalet kopplas inte",
    "hint_incomplete_contract_data": "avtalsuppgifter saknas: kundtjänst",
    "hint_customer_not_found": "inga kunduppgifter: kundtjänst",
    "hint_already_registered": "har redan ett konto",
    "identified": "Identifierad: {name}",
    "phase2": "Steg 2/4: Kontrollera din personbeteckning",
    "personal_id": "Personbeteckning: {code}",
    "next": "Nästa",
    "phase3": "Steg 3/4: Användaruppgifter",
    "details_intro": (
        "Uppgifterna kommer från vårt kundregister. Tryck Enter för att behålla ett värde, skriv "
        "ett nytt för att ändra det eller '-' för att tömma det. * = obligatoriskt."
    ),
    "username_hint": "ditt användarnamn",
    "yes_no": "j/n",
    "yes_words": "j,ja",
    "no_words": "n,nej",
    "answer_yes_no": "Svara j eller n.",
    "password_rules": "Krav på lösenordet:",
    "password_prompt": "Lösenord (visas inte)",
    "password_again": "Lösenordet igen",
    "password_mismatch": "Lösenorden stämde inte överens. Skriv dem igen.",
    "fix": "Rätta följande:",
    "phase4": "Steg 4/4: Bekräftelse. Kontrollera dina uppgifter",
    "review_note": (
        "Uppgifterna sparas endast i din e-tjänstprofil; Helens kundregister ändras inte. "
        "Kontakta kundtjänst för att ändra registret."
    ),
    "approve": "Godkänn",
    "edit": "Redigera",
    "completed": "Registreringen är klar.",
    "username": "Ditt användarnamn: {username}",
    "changed_fields": (
        "Din e-tjänstprofil skiljer sig från kundregistret i: {fields}. Själva registret ändras "
        "inte; kontakta kundtjänst för att uppdatera det."
    ),
    "warning_district_heating_not_linked": (
        "Ditt fjärrvärmeavtal kunde inte kopplas till ditt konto automatiskt."
    ),
    "warning_contract_not_linked": "Ett avtal kunde inte kopplas till ditt konto automatiskt.",
    "contact_customer_service": "Kundtjänst",
    "contact_district_heating_advisory": "Fjärrvärmerådgivningen",
    "email_heading": "Bekräftelsemejl (det som skulle skickas):",
    "email_to": "Till",
    "email_subject": "Ämne",
    "continue": "Fortsätt till val av tjänst.",
    "customer_service_heading": "Registreringen kan inte fortsätta som självbetjäning.",
    "reason_bank_not_listed": "Din bank finns inte bland dem som kan användas för identifiering.",
    "reason_customer_not_found": "Inga kunduppgifter hittades för din personbeteckning.",
    "reason_incomplete_contract_data": (
        "Dina avtalsuppgifter saknar information som behövs för att identifiera dig."
    ),
    "reason_identification_failed": "Identifieringen i banken lyckades inte trots flera försök.",
    "registered_earlier": (
        "Den här demon behåller sina konton mellan körningarna: personen registrerade sig under "
        "en tidigare körning."
    ),
    "cancelled": "Registreringen avbröts. Inga av dina uppgifter sparades.",
    "interrupted": "Avbrutet. Registreringen avbröts; inga av dina uppgifter sparades.",
    "input_ended": "Indata tog slut. Registreringen avbröts; inga av dina uppgifter sparades.",
}

TEXTS: Final[dict[str, dict[str, str]]] = {"sv": SV, "fi": FI, "en": EN}


class Texts:
    """The texts of one language: `texts("key", name=...)` fills in `{name}` placeholders."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._table = TEXTS[language]

    def __call__(self, key: str, **params: object) -> str:
        text = self._table[key]
        return text.format(**params) if params else text

    def get(self, key: str, fallback: str) -> str:
        """The text for `key`, or `fallback` for a key this example does not know (a new code)."""
        return self._table.get(key, fallback)

    def words(self, key: str) -> frozenset[str]:
        """A comma-separated entry (`yes_words`) as a set of lower-case answers."""
        return frozenset(word.strip().casefold() for word in self._table[key].split(","))
