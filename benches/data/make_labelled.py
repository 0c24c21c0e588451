#!/usr/bin/env python3
"""Build the labelled accuracy set benches/data/labelled.tsv.

Columns: detector_id <TAB> expected (1 = a true instance, 0 = not) <TAB> text.
Sources:
  * Presidio-style test strings (the true/false instances used by the
    presidio-analyzer recognizer tests for credit card, email, IBAN, phone,
    US SSN, UK NINO and DE tax id);
  * python-stdnum: valid numbers made with calc_check_digit, and their
    "invalid-checksum twins" (last check character changed);
  * Faker output, checked by the stdnum validator before it is labelled 1.
Deterministic (fixed seeds). Requires: pip install python-stdnum faker
usage: python3 benches/data/make_labelled.py > benches/data/labelled.tsv
"""
import random
import sys

from faker import Faker
from stdnum import iban as std_iban, luhn
from stdnum.iso7064 import mod_11_10
from stdnum.de import idnr, vat as de_vat
from stdnum.es import dni, nie
from stdnum.fr import nir
from stdnum.gb import nhs
from stdnum.it import codicefiscale
from stdnum.nl import bsn
from stdnum.pl import pesel
from stdnum.se import personnummer
from stdnum.us import ssn as us_ssn

R = random.Random(20261123)
rows = []


def add(det, expected, text):
    text = text.replace("\t", " ").replace("\n", " ")
    rows.append((det, 1 if expected else 0, text))


# ---- Presidio-style test strings ----
PRESIDIO = {
    "credit_card": [
        (1, "4012888888881881 4012-8888-8888-1881 4012 8888 8888 1881"),
        (1, "122000000000003"), (1, "my credit card: 122000000000003"),
        (1, "371449635398431"), (1, "5555555555554444"), (1, "5019717010103742"),
        (1, "30569309025904"), (1, "6011000400000000"), (1, "3528000700000000"),
        (1, "6759649826438453"), (1, "4111111111111111"), (1, "4917300800000000"),
        (1, "4484070000000000"), (0, "4012-8888-8888-1882"),
        (0, "my credit card number is 4012-8888-8888-1882"), (0, "36168002586008"),
        (0, "my credit card number is 36168002586008"),
    ],
    "email": [
        (1, "info@presidio.site"), (1, "my email address is info@presidio.site"),
        (1, "try one of these emails: info@presidio.site or anotherinfo@presidio.site"),
        (0, "my email is info@presidio."),
    ],
    "us_ssn": [
        # Presidio also reports these weak forms; labelscan needs a context
        # word for bare or oddly split 9-digit numbers (ZIP+4 lookalikes).
        (1, "078-051121 07805-1121"), (1, "078051121"),
        (1, "078-05-1123"), (1, "078.05.1123"), (1, "078 05 1123"), (1, "abc 078 05 1123 abc"),
        (0, "0780511201"), (0, "078051120"), (0, "000000000"), (0, "666000000"),
        (0, "078-05-0000"), (0, "078 00 1123"), (0, "693-09.4444"),
    ],
    "uk_nino": [
        (1, "AA 12 34 56 B"), (1, "hh 01 02 03 d"), (1, "tw987654a"), (1, "nino: PR 123612C"),
        (1, "Here is my National Insurance Number YZ 61 48 68 B"),
        (0, "AA 12 34 56 H"), (0, "FQ 00 00 00 C"), (0, "BG123612A"), (0, "nino: nt 99 88 77 a"),
        (0, "This isn't a valid national insurance number UV 98 76 54 B"),
    ],
    "de_tax_id": [
        (1, "65 929 970 489"), (1, "65929970489"), (1, "86 095 742 719"),
        (0, "02 461 357 893"), (0, "65 929 970 481"), (0, "1234567890"), (0, "123456789012"),
        (0, "12 345 678 903"),
    ],
    "phone": [
        (1, "My US number is (415) 555-0132, and my international one is +1 415 555 0132"),
        (1, "My Israeli number is 09-7625400"), (1, "_: (415)555-0132"),
        (1, "United States: (415)555-0132"), (1, "US: 415-555-0132"), (1, "_: +55 11 98456 5666"),
        (1, "Brazil: +55 11 98456 5666"), (1, "BR: +55 11 98456 5666"),
        (1, "my phone number is (425) 882-9090"), (1, "my phone number is 425 8829090"),
        (1, "try one of these phones 052 5552606 074-7111234"), (1, "my phone number is 4258829090"),
    ],
    "iban": [
        (1, "this is an iban VG96 VPVG 0000 0123 4567 8901 in a sentence"),
        (1, "this is an iban VG96 VPVG 0000 0123 4567 8901 X in a sentence"),
        (0, "AB150120690000003111141"), (0, "IL15 0120 6900 0000"),
        (0, "IL15 0120 6900 0000 3111 0120 6900 0000 3111 141"), (0, "IL150120690000003111141"),
        (0, "AM47212110090000000235698740"),
        (1, "list of ibans: AL47212110090000000235698741, AL47212110090000000235698741"),
        (1, "Dash as iban separator: AL47-2121-1009-0000-0002-3569-8741"),
        (0, "Slash as iban separator: AL47/2121/1009/0000/0002/3569/8741"),
        (0, "Dalla's Pizza | 3843 Peartree Road, Bamblee, SD 20241 440-600-5124"),
        (1, "AL47212110090000000235698741 ALL CAPS"),
    ],
}
# The IBAN recognizer's per-country cases (expected, text), kept in a data file.
import os
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "presidio_iban.txt"), encoding="utf-8") as fh:
    for line in fh:
        line = line.rstrip("\n")
        if line:
            PRESIDIO["iban"].append((int(line[0]), line[2:]))
for det, items in PRESIDIO.items():
    for exp, text in items:
        add(det, exp, text)


def grouped(s, sep=" "):
    return sep.join(s[i:i + 4] for i in range(0, len(s), 4))


def twin(s, positions=None):
    """Change the last digit (or a given position) so the checksum fails."""
    i = len(s) - 1 if positions is None else positions
    c = s[i]
    if c.isdigit():
        n = str((int(c) + R.randint(1, 9)) % 10)
    else:
        n = chr((ord(c.upper()) - 65 + R.randint(1, 25)) % 26 + 65)
    return s[:i] + n + s[i + 1:]


def rdigits(n):
    return "".join(R.choice("0123456789") for _ in range(n))


# ---- IBAN: stdnum-valid from Faker in several locales, plus twins ----
for loc in ["de_DE", "en_GB", "fr_FR", "nl_NL", "es_ES", "it_IT", "pl_PL", "de_AT"]:
    f = Faker(loc)
    f.seed_instance(7)
    for k in range(25):
        v = f.iban()
        if not std_iban.is_valid(v):
            continue
        text = grouped(v) if k % 2 else v
        add("iban", 1, ("IBAN " if k % 3 == 0 else "") + text)
        bad = twin(v)
        if not std_iban.is_valid(bad):
            add("iban", 0, grouped(bad) if k % 2 else bad)

# ---- credit cards: Faker numbers (Luhn-checked) and twins ----
f = Faker("en_US")
f.seed_instance(11)
for k in range(160):
    v = f.credit_card_number()
    if not luhn.is_valid(v):
        continue
    sep = [" ", "-", ""][k % 3]
    text = grouped(v, sep) if sep and len(v) == 16 else v
    add("credit_card", 1, text)
    bad = twin(v)
    if not luhn.is_valid(bad):
        add("credit_card", 0, grouped(bad, sep) if sep and len(bad) == 16 else bad)
# Mastercard 2-series
for k in range(20):
    body = str(R.randint(2221, 2720)) + rdigits(11)
    v = body + luhn.calc_check_digit(body)
    add("credit_card", 1, grouped(v))
# random 16-digit order numbers that fail Luhn
for k in range(30):
    v = rdigits(16)
    if not luhn.is_valid(v):
        add("credit_card", 0, "Order " + v)

# ---- email ----
f = Faker("de_DE")
f.seed_instance(3)
for k in range(60):
    add("email", 1, f"Kontakt: {f.email()}")
for k in range(30):
    u = f.user_name()
    add("email", 0, R.choice([f"{u}@localhost", f"@{u} on social media", f"{u}@host.", f"{u} at example dot com"]))

# ---- phone ----
for loc, prefix in [("en_US", "Phone: "), ("de_DE", "Tel. "), ("en_GB", "Mobile: "), ("fr_FR", "Téléphone : ")]:
    f = Faker(loc)
    f.seed_instance(5)
    for k in range(20):
        add("phone", 1, prefix + f.phone_number())
for k in range(40):
    add("phone", 0, R.choice([
        f"Invoice {rdigits(10)} was paid", f"Delivered on 20{R.randint(10, 29)}-0{R.randint(1, 9)}-1{R.randint(0, 9)}",
        f"Version {R.randint(1, 20)}.{R.randint(0, 9)}.{R.randint(0, 9)}", f"Total {R.randint(1000, 9999)}.{rdigits(2)} EUR",
        f"Part no. {rdigits(6)}",
    ]))

# ---- US SSN (Faker, checked by stdnum) ----
f = Faker("en_US")
f.seed_instance(13)
for k in range(60):
    v = f.ssn()
    if us_ssn.is_valid(v):
        add("us_ssn", 1, R.choice(["SSN: ", "", "social security number "]) + v)
for k in range(40):
    area = R.choice(["000", "666", str(R.randint(900, 999))])
    add("us_ssn", 0, f"{area}-{R.randint(10, 99)}-{R.randint(1000, 9999)}")
for k in range(20):
    add("us_ssn", 0, f"{R.randint(100, 665)}-00-{R.randint(1000, 9999)}")
for k in range(20):
    add("us_ssn", 0, f"Order {rdigits(9)}")

# ---- DE tax id ----
n = 0
while n < 60:
    body = str(R.randint(1, 9)) + rdigits(9)
    v = body + mod_11_10.calc_check_digit(body)
    if not idnr.is_valid(v):
        continue
    n += 1
    text = f"{v[:2]} {v[2:5]} {v[5:8]} {v[8:]}" if n % 2 else v
    add("de_tax_id", 1, ("Steuer-ID: " if n % 3 == 0 else "") + text)
    bad = twin(v)
    if not idnr.is_valid(bad):
        add("de_tax_id", 0, bad)

# ---- UK NINO ----
FIRST = "ABCEGHJKLMNOPRSTWXYZ"
SECOND = "ABCEGHJKLMNPRSTWXYZ"
BAD_PAIRS = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
n = 0
while n < 50:
    p = R.choice(FIRST) + R.choice(SECOND)
    if p in BAD_PAIRS:
        continue
    n += 1
    d = rdigits(6)
    s = R.choice("ABCD")
    add("uk_nino", 1, f"{p} {d[:2]} {d[2:4]} {d[4:]} {s}" if n % 2 else p + d + s)
for k in range(40):
    p = R.choice(["BG", "GB", "NK", "ZZ", "D" + R.choice(SECOND), R.choice(FIRST) + "O", "Q" + R.choice(SECOND)])
    add("uk_nino", 0, f"{p}{rdigits(6)}{R.choice('ABCD')}")
for k in range(10):
    add("uk_nino", 0, f"AB{rdigits(6)}{R.choice('EFGHXYZ')}")

# ---- other national ids, with context words where the detector needs them ----
def gen(det, valid_fn, make, n_pos, ctx="", bad=True):
    made = 0
    tries = 0
    while made < n_pos and tries < n_pos * 50:
        tries += 1
        v = make()
        if not valid_fn(v):
            continue
        made += 1
        add(det, 1, ctx + v)
        if bad:
            b = twin(v)
            if not valid_fn(b):
                add(det, 0, ctx + b)


gen("uk_nhs", nhs.is_valid, lambda: rdigits(10), 30, "NHS number: ")
gen("nl_bsn", bsn.is_valid, lambda: str(R.randint(1, 9)) + rdigits(8), 30, "BSN: ")
gen("es_dni", dni.is_valid, lambda: (lambda b: b + dni.calc_check_digit(b))(rdigits(8)), 30, "DNI ")
gen("es_dni", nie.is_valid, lambda: (lambda b: b + nie.calc_check_digit(b))(R.choice("XYZ") + rdigits(7)), 15, "NIE ")
f = Faker("it_IT")
f.seed_instance(17)
gen("it_fiscal_code", codicefiscale.is_valid, lambda: f.ssn(), 30, "Codice fiscale: ")
f = Faker("fr_FR")
f.seed_instance(19)
gen("fr_nir", nir.is_valid, lambda: f.ssn(), 30, "N° sécurité sociale ")
f = Faker("pl_PL")
f.seed_instance(23)
gen("pl_pesel", pesel.is_valid, lambda: f.pesel(), 30, "PESEL: ")
f = Faker("de_DE")
f.seed_instance(29)
gen("eu_vat", de_vat.is_valid, lambda: f.vat_id(), 30, "USt-IdNr. ")
f = Faker("sv_SE")
f.seed_instance(31)
gen("se_personnummer", personnummer.is_valid, lambda: f.ssn(), 25, "Personnummer: ")

# ---- secrets ----
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
for k in range(25):
    add("aws_access_key", 1, "aws_access_key_id = AKIA" + "".join(R.choice(B32) for _ in range(16)))
    add("aws_access_key", 0, "key = AKIA" + "X" * 16)
    add("github_token", 1, "token ghp_" + "".join(R.choice(ALNUM) for _ in range(36)))
    add("github_token", 0, "ghp_" + "x" * 36)
    add("private_key", 1, "-----BEGIN RSA PRIVATE KEY----- " + "".join(R.choice(ALNUM) for _ in range(120)) + " -----END RSA PRIVATE KEY-----")
    add("private_key", 0, "-----BEGIN PUBLIC KEY----- " + "".join(R.choice(ALNUM) for _ in range(120)) + " -----END PUBLIC KEY-----")
    pw = "".join(R.choice(ALNUM + "!#%&") for _ in range(12))
    add("password_assignment", 1, R.choice(["Passwort: ", "password: ", "pwd="]) + pw)
    add("password_assignment", 0, R.choice(["password: required", "Passwort: siehe Tresor", "password = ${DB_PASS}", "password: ********"]))
    add("connection_string", 1, f"postgres://app:{pw}@db{k}.internal:5432/crm")
    add("connection_string", 0, f"https://www.example.com/{k}/index.html")

# ---- IP ----
for t in ["This document contains trade secrets.", "PROPRIETARY AND CONFIDENTIAL", "Betriebsgeheimnis der Apex GmbH",
          "Enthält Geschäftsgeheimnisse", "vertraulich und urheberrechtlich geschützt"]:
    add("trade_secret", 1, t)
for t in ["The trade show was busy.", "Secretary general meeting", "Geschäftsbericht 2024", "proprietary software list"]:
    add("trade_secret", 0, t)
for t in ["Patent pending", "patent applied for", "Zum Patent angemeldet", "Invention disclosure form"]:
    add("patent_pending", 1, t)
for t in ["US patent 9,123,456 expired", "pending approval", "Patentanwalt Dr. Meier"]:
    add("patent_pending", 0, t)

w = sys.stdout
w.write("detector_id\texpected\ttext\n")
for det, exp, text in rows:
    w.write(f"{det}\t{exp}\t{text}\n")
print(f"{len(rows)} rows", file=sys.stderr)
