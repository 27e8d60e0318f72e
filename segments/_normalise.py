"""Normalisation of the text fields of an ID document.

Theory of operation
-------------------
The same person's name reaches Doorwatch by different routes: typed by an
originator from the visual zone of a card ("Müller", "O'Brien",
"Smith-Jones"), read by a scanner's OCR from the visual zone, or decoded from
the machine-readable zone (MRZ), which ICAO 9303 restricts to A-Z, 0-9 and the
filler '<' and whose transliteration rules turn "Ü" into "UE", "Å" into "AA",
"Ø" into "OE" and "ß" into "SS". Matching only works if every route lands on
the same string, so every function here is applied identically to both sides
of a comparison (the alert's subject and the scanned customer).

The layers, each built on the one before:

``normalise_text(s)``
    Unicode NFKD (compatibility decomposition: "ﬁ" -> "fi", full-width forms
    -> ASCII), combining marks dropped ("é" -> "e"), then an explicit
    transliteration of the Latin letters NFKD does not decompose::

        ß ẞ -> SS    Æ æ -> AE    Ø ø -> O     Œ œ -> OE    Ł ł -> L
        Đ đ Ð ð -> D Þ þ -> TH    ı -> I       Ħ ħ -> H     Ŧ ŧ -> T
        ŋ Ŋ -> N     ĸ -> K       ſ -> S (via NFKD)

    and Cyrillic by ICAO 9303 Part 3 section 6 (Table B, the letters of
    Russian, Ukrainian, Belarusian, Serbian, Macedonian and Bulgarian; the
    table's first column where a language note differs)::

        А A  Б B  В V  Г G  Ґ G  Д D  Ђ D  Ѓ G (via NFKD)  Е E  Ё E  Є IE
        Ж ZH З Z  Ѕ DZ И I  І I  Ї I  Й I  Ј J  К K  Л L  Љ LJ М M  Н N
        Њ NJ О O  П P  Р R  С S  Т T  Ћ C  Ќ K  У U  Ў U  Ф F  Х KH Ц TS
        Ч CH Џ DZ Ш SH Щ SHCH  Ъ IE  Ы Y  Ь (dropped)  Э E  Ю IU  Я IA

    (so "Иванова" and the MRZ's IVANOVA agree, and "Щеглова" is SHCHEGLOVA);
    and Arabic script by Table C, before NFKD (which would strip the hamza
    and madda that the table spells out): the basic letters one or two
    letters each, the rest with an X prefix so the spelling can be reversed::

        ء XE   آ XAA  أ XAE  ؤ U    إ I    ئ XI   ا A    ب B    ة XTA
        ت T    ث XTH  ج J    ح XH   خ XKH  د D    ذ XDH  ر R    ز Z
        س S    ش XSH  ص XSS  ض XDZ  ط XTT  ظ XZZ  ع E    غ G    ف F
        ق Q    ك K    ل L    م M    ن N    ه H    و W    ى XAY  ي Y
        and the letters of Persian, Urdu and Pashto (پ P, چ XC, ژ XJ,
        ک XKK, گ XGG, ی XYA, ...: ``_ARABIC`` below)

    (so "محمد" is MXHMD: a key for two typings of the same Arabic spelling,
    which no Latin spelling of the name will ever equal); the optional vowel
    marks (harakat, shadda, sukun) are combining marks and go with the
    others, so a name typed with them and without them agrees, and the
    tatweel is dropped; then upper case; every character that is not A-Z or 0-9 becomes a space
    (punctuation, the MRZ filler '<', and any script ICAO gives no table for,
    such as Greek, which is dropped: a name written only in such a script has
    an empty key, and an empty key never agrees with anything); runs of
    spaces collapse to one and the ends are stripped.

``normalise_name(s)``
    For personal names: apostrophes (', ’, ‘, ʼ, ʻ, `, ´) are removed without
    leaving a space (O'Brien -> OBRIEN, D'Angelo -> DANGELO); hyphens, the MRZ
    filler '<' and other punctuation become a space (Smith-Jones -> SMITH
    JONES); digits are dropped (in a name they are OCR noise). The result is
    upper-case A-Z words separated by single spaces.

``name_key(s)``
    The matching key of a name: the tokens of ``normalise_name`` joined
    without spaces (so "Mac Donald", "MacDonald" and "MAC<DONALD" agree, as do
    "O Brien" and "O'Brien"), then the transliteration ambiguities between the
    visual zone and the MRZ folded, repeatedly until nothing changes::

        AE -> A   (Ä read as AE in the MRZ, A in the visual zone; Æ -> AE -> A)
        OE -> O   (Ö, Ø read as OE in the MRZ; Œ -> OE -> O)
        UE -> U   (Ü read as UE in the MRZ)
        AA -> A   (Å read as AA in the MRZ)

    The folds are applied to every input, including names that never had a
    diacritic (MANUEL -> MANUL, JOEL -> JOL): a key is a comparison device,
    not a spelling, and the loss of distinctness is tiny next to the matches
    it rescues.

``first_given_name``, ``surname_variants``
    Keys for the parts of a name that are recorded inconsistently (see their
    docstrings).

``normalise_document_number``, ``normalise_postcode``
    Upper-case ASCII alphanumerics only (spaces, dashes and '<' removed).

``fold_confusables(s)``
    For fields that mix letters and digits (document numbers, postcodes):
    maps characters OCR confuses to one representative, so a misread still
    compares equal::

        0 O Q D -> O    1 I L -> I    5 S -> S    8 B -> B
        2 Z -> Z        6 G -> G

Every function is total: it accepts any ``str`` (including lone surrogates,
control characters and unassigned code points) and never raises. Every
function is idempotent: applying it to its own output changes nothing.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

__all__ = [
    "NAME_PARTICLES",
    "first_given_name",
    "fold_confusables",
    "name_key",
    "name_tokens",
    "normalise_document_number",
    "normalise_name",
    "normalise_postcode",
    "normalise_text",
    "surname_variants",
]

# Latin letters that NFKD leaves whole. Applied after decomposition, so a
# precomposed "Ǿ" (Ø with acute) first loses its acute and then maps here.
_TRANSLITERATION: dict[int, str] = {
    ord(k): v
    for k, v in {
        "ß": "SS",
        "ẞ": "SS",
        "Æ": "AE",
        "æ": "AE",
        "Ø": "O",
        "ø": "O",
        "Œ": "OE",
        "œ": "OE",
        "Ł": "L",
        "ł": "L",
        "Đ": "D",
        "đ": "D",
        "Ð": "D",
        "ð": "D",
        "Þ": "TH",
        "þ": "TH",
        "ı": "I",
        "Ħ": "H",
        "ħ": "H",
        "Ŧ": "T",
        "ŧ": "T",
        "Ŋ": "N",
        "ŋ": "N",
        "ĸ": "K",
    }.items()
}

# ICAO 9303 Part 3 section 6, Table B (Cyrillic). Letters with a diacritic
# (Й Ё Ї Ў Ѓ Ќ Ѐ Ѝ) reach this table decomposed by NFKD, as their base letter.
_CYRILLIC_UPPER = {
    "А": "A",
    "Б": "B",
    "В": "V",
    "Г": "G",
    "Ґ": "G",
    "Д": "D",
    "Ђ": "D",
    "Е": "E",
    "Є": "IE",
    "Ж": "ZH",
    "З": "Z",
    "Ѕ": "DZ",
    "И": "I",
    "І": "I",
    "Ј": "J",
    "К": "K",
    "Л": "L",
    "Љ": "LJ",
    "М": "M",
    "Н": "N",
    "Њ": "NJ",
    "О": "O",
    "П": "P",
    "Р": "R",
    "С": "S",
    "Т": "T",
    "Ћ": "C",
    "У": "U",
    "Ф": "F",
    "Х": "KH",
    "Ц": "TS",
    "Ч": "CH",
    "Џ": "DZ",
    "Ш": "SH",
    "Щ": "SHCH",
    "Ъ": "IE",
    "Ы": "Y",
    "Ь": "",
    "Э": "E",
    "Ю": "IU",
    "Я": "IA",
}
_TRANSLITERATION.update({ord(k): v for k, v in _CYRILLIC_UPPER.items()})
_TRANSLITERATION.update({ord(k.lower()): v for k, v in _CYRILLIC_UPPER.items()})

# ICAO 9303 Part 3 section 6, Table C (Arabic script). Applied before NFKD.
_ARABIC = {
    "\u0621": "XE",  # hamza
    "\u0622": "XAA",  # alef with madda above
    "\u0623": "XAE",  # alef with hamza above
    "\u0624": "U",  # waw with hamza above
    "\u0625": "I",  # alef with hamza below
    "\u0626": "XI",  # yeh with hamza above
    "\u0627": "A",  # alef
    "\u0628": "B",
    "\u0629": "XTA",  # teh marbuta
    "\u062a": "T",
    "\u062b": "XTH",
    "\u062c": "J",
    "\u062d": "XH",
    "\u062e": "XKH",
    "\u062f": "D",
    "\u0630": "XDH",
    "\u0631": "R",
    "\u0632": "Z",
    "\u0633": "S",
    "\u0634": "XSH",
    "\u0635": "XSS",
    "\u0636": "XDZ",
    "\u0637": "XTT",
    "\u0638": "XZZ",
    "\u0639": "E",  # ain
    "\u063a": "G",
    "\u0640": "",  # tatweel (a stretch of the line, not a letter)
    "\u0641": "F",
    "\u0642": "Q",
    "\u0643": "K",
    "\u0644": "L",
    "\u0645": "M",
    "\u0646": "N",
    "\u0647": "H",
    "\u0648": "W",
    "\u0649": "XAY",  # alef maksura
    "\u064a": "Y",
    "\u0671": "XXA",  # alef wasla
    "\u0679": "XXT",  # the letters of Persian, Urdu and Pashto
    "\u067c": "XRT",
    "\u067e": "P",
    "\u0681": "XKE",
    "\u0685": "XXH",
    "\u0686": "XC",
    "\u0688": "XXD",
    "\u0689": "XDR",
    "\u0691": "XXR",
    "\u0693": "XRR",
    "\u0696": "XRX",
    "\u0698": "XJ",
    "\u069a": "XXS",
    "\u06a9": "XKK",
    "\u06ab": "XXK",
    "\u06ad": "XNG",
    "\u06af": "XGG",
    "\u06ba": "XNN",
    "\u06bc": "XXN",
    "\u06be": "XDO",
    "\u06c0": "XYH",
    "\u06c1": "XXG",
    "\u06c2": "XGE",
    "\u06c3": "XTG",
    "\u06cc": "XYA",
    "\u06cd": "XXY",
    "\u06d0": "Y",
    "\u06d2": "XYB",
    "\u06d3": "XBE",
}
_ARABIC_TABLE = str.maketrans(_ARABIC)
_ARABIC_BLOCK = range(0x0600, 0x0700)


_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_DIGITS = str.maketrans("", "", "0123456789")

# Removed without a space in names. The spacing acute (U+00B4) must go before
# NFKD, which would otherwise turn it into a space plus a combining mark.
_APOSTROPHES = str.maketrans(dict.fromkeys("'’‘ʼʻ`´′＇‛", None))

_NAME_FOLDS = (("AE", "A"), ("OE", "O"), ("UE", "U"), ("AA", "A"))

_CONFUSABLES = str.maketrans(
    {
        "0": "O",
        "Q": "O",
        "D": "O",
        "1": "I",
        "L": "I",
        "5": "S",
        "8": "B",
        "2": "Z",
        "6": "G",
    }
)

NAME_PARTICLES: frozenset[str] = frozenset(
    {
        # Dutch, Flemish, German
        "VAN",
        "VON",
        "DER",
        "DEN",
        "TER",
        "TEN",
        "ZU",
        "ZUM",
        "ZUR",
        # Romance languages
        "DE",
        "DA",
        "DI",
        "DO",
        "DU",
        "DES",
        "DEL",
        "DELLA",
        "DELLE",
        "DELLO",
        "DEGLI",
        "DEI",
        "DOS",
        "DAS",
        "LA",
        "LE",
        "LES",
        "LO",
        # Arabic article as written in Latin script
        "AL",
        "EL",
    }
)
"""Leading surname particles that are sometimes omitted when a surname is
recorded (van der Berg -> Berg, da Silva -> Silva). Deliberately absent:
Mac/Mc and O (they are part of Gaelic surnames and never dropped: MacDonald
without Mac is a different name), St/Saint (St John would become John), and
Ben/Bin (also given names)."""

# Joins the two surnames of a Spanish double surname ("García y López").
_CONJUNCTIONS = frozenset({"Y"})

# Words that belong to the word after them when a surname is split into its
# components, but are never stripped: "Mac Donald" is one component, not MAC
# and DONALD.
_PREFIXES = NAME_PARTICLES | frozenset(
    {"O", "MAC", "MC", "NI", "NIC", "FITZ", "AP", "ST", "SAINT", "BEN", "BIN", "BINT", "ABU"}
)


def normalise_text(s: str) -> str:
    """Upper-case ASCII letters and digits, single spaces; see the module docstring."""
    return _normalise_text_cached(s) if len(s) <= _CACHED_LENGTH else _normalise_text(s)


def normalise_name(s: str) -> str:
    """Upper-case A-Z words separated by single spaces; see the module docstring."""
    return _normalise_name_cached(s) if len(s) <= _CACHED_LENGTH else _normalise_name(s)


def name_key(s: str) -> str:
    """The matching key of a name: tokens joined without spaces, MRZ/visual folds applied."""
    return _name_key_cached(s) if len(s) <= _CACHED_LENGTH else _name_key(s)


# Names and document fields are short and repeat (a population has a few
# thousand distinct names), so the three hot functions are memoised; long
# strings bypass the caches so no input can make them hold much memory.
_CACHED_LENGTH = 128


def _normalise_text(s: str) -> str:
    if s.isascii():
        decomposed = s
    else:
        if any(ord(ch) in _ARABIC_BLOCK for ch in s):
            s = s.translate(_ARABIC_TABLE)
        decomposed = "".join(
            ch for ch in unicodedata.normalize("NFKD", s) if not unicodedata.combining(ch)
        ).translate(_TRANSLITERATION)
    upper = decomposed.upper()
    return " ".join("".join(ch if ch in _ALNUM else " " for ch in upper).split())


def _normalise_name(s: str) -> str:
    text = normalise_text(s.translate(_APOSTROPHES)).translate(_DIGITS)
    return " ".join(text.split())


_normalise_text_cached = lru_cache(maxsize=65536)(_normalise_text)
_normalise_name_cached = lru_cache(maxsize=65536)(_normalise_name)


def name_tokens(s: str) -> tuple[str, ...]:
    """The words of ``normalise_name(s)``."""
    return tuple(normalise_name(s).split())


def _name_key(s: str) -> str:
    key = normalise_name(s).replace(" ", "")
    while True:
        folded = key
        for pattern, replacement in _NAME_FOLDS:
            folded = folded.replace(pattern, replacement)
        if folded == key:
            return key
        key = folded


_name_key_cached = lru_cache(maxsize=65536)(_name_key)


def first_given_name(given_names: str) -> str:
    """``name_key`` of the first given name ('' if there is none).

    The first given name is the one a person uses and the one every document
    records; middle names are dropped by scanners and truncated in a TD1 MRZ.
    """
    tokens = name_tokens(given_names)
    return name_key(tokens[0]) if tokens else ""


def surname_variants(surname: str) -> tuple[str, ...]:
    """Name keys under which this surname may have been recorded.

    In order, without duplicates:

    1. the full key, ``name_key(surname)``: "Smith-Jones" -> SMITHJONES;
       if the surname contains the Spanish conjunction "y", the full key
       without it follows ("García y López" -> GARCIAYLOPEZ, GARCIALOPEZ);
    2. if the surname has several components, each component: SMITH, JONES.
       A particle or a Gaelic/patronymic prefix (O, Mac, Mc, Ní, Fitz, ap,
       St, bin ...) attaches to the word after it, so "Mac Donald" and
       "Ó Briain" are one component each and "García de la Cruz" has the
       components GARCIA and DELACRUZ; "y" separates components
       ("García y López" -> GARCIA, LOPEZ);
    3. the full surname with its leading particles stripped ("van der Berg"
       -> BERG, "da Silva" -> SILVA), then each component with its leading
       particles stripped (DELACRUZ -> CRUZ). See ``NAME_PARTICLES``.

    Empty only if the input has no letters.
    """
    all_tokens = list(name_tokens(surname))
    if not all_tokens:
        return ()
    tokens = [t for t in all_tokens if t not in _CONJUNCTIONS] or all_tokens
    components: list[list[str]] = []
    pending: list[str] = []
    for token in tokens:
        pending.append(token)
        if token not in _PREFIXES:
            components.append(pending)
            pending = []
    if pending:
        if components:
            components[-1].extend(pending)
        else:
            components.append(pending)

    out: list[str] = []

    def add(parts: list[str]) -> None:
        key = name_key(" ".join(parts))
        if key and key not in out:
            out.append(key)

    add(all_tokens)
    add(tokens)
    if len(components) > 1:
        for component in components:
            add(component)
    add(_strip_particles(tokens))
    for component in components:
        add(_strip_particles(component))
    return tuple(out)


def normalise_document_number(s: str) -> str:
    """Upper-case ASCII letters and digits only (spaces, dashes, '<' removed)."""
    return normalise_text(s).replace(" ", "")


def normalise_postcode(s: str) -> str:
    """Upper-case ASCII letters and digits only: "sw1a 1aa" -> SW1A1AA."""
    return normalise_text(s).replace(" ", "")


def fold_confusables(s: str) -> str:
    """``normalise_text(s)`` with OCR-confusable characters mapped to one representative.

    0 O Q D -> O, 1 I L -> I, 5 S -> S, 8 B -> B, 2 Z -> Z, 6 G -> G. Meant
    for fields that mix letters and digits (document numbers, postcodes),
    where the reader cannot use a dictionary to resolve the ambiguity.
    """
    return normalise_text(s).translate(_CONFUSABLES)


def _strip_particles(tokens: list[str]) -> list[str]:
    start = 0
    while start < len(tokens) - 1 and tokens[start] in NAME_PARTICLES:
        start += 1
    return tokens[start:]
