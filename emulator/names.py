"""Word pools for the synthetic company. Non-ASCII names are deliberate: they exercise encoding
end to end (UTF-8 bodies, warehouse collation)."""

from __future__ import annotations

import re
import unicodedata

COMPANY_NAMES = (
    "Northwind Académie",
    "Globex Learning",
    "Initech Université",
    "Umbrella Santé",
    "Stark Logistik",
    "Wayne & Söhne",
    "Acme Formation",
    "Soylent Corp",
)

FIRST_NAMES = (
    "Zoë",
    "Çağla",
    "Łukasz",
    "Jürgen",
    "Amélie",
    "José",
    "Søren",
    "Ingrid",
    "Chloé",
    "François",
    "Björn",
    "Małgorzata",
    "Émile",
    "Noémie",
    "Ana",
    "Mateo",
    "Aisha",
    "Kenji",
    "Yuki",
    "Priya",
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Sofia",
    "Lucas",
    "Mia",
    "Hugo",
    "Léa",
    "Omar",
    "Fatima",
    "Ivan",
    "Nadia",
    "Pierre",
    "Marie",
    "Thomas",
    "Laura",
    "David",
    "Sarah",
    "Mehmet",
    "Ayşe",
    "Dmitri",
    "Oksana",
    "Håkon",
    "Siobhán",
    "Raúl",
    "Inès",
    "Jonas",
    "Agnieszka",
    "Tomás",
    "Camille",
    "Chen",
    "Wei",
    "Aditi",
    "Mariana",
    "Bartłomiej",
)

LAST_NAMES = (
    "Müller",
    "Dubois",
    "Kowalski",
    "Öztürk",
    "Nørgaard",
    "García",
    "Martin",
    "Bernard",
    "Smith",
    "Johnson",
    "Rossi",
    "Bianchi",
    "Jensen",
    "Nowak",
    "Schmidt",
    "Lefèvre",
    "Gonçalves",
    "Ferreira",
    "Yılmaz",
    "Andersson",
    "Ødegaard",
    "van der Berg",
    "O'Brien",
    "Wiśniewski",
    "Sánchez",
    "Dupont",
    "Moreau",
    "Lambert",
    "Fischer",
    "Weber",
    "Tanaka",
    "Kim",
    "Nguyen",
    "Patel",
    "Hernández",
    "Şahin",
    "Żak",
    "Lindqvist",
    "Da Silva",
    "Keller",
)

DEPARTMENTS = (
    "Sales",
    "Marketing",
    "Engineering",
    "Customer Success",
    "Finance",
    "People & Culture",
    "Legal",
    "Operations",
    "Support",
    "Product",
    "Logistique",
    "Qualité",
)
REGIONS = (
    "France",
    "Deutschland",
    "España",
    "Türkiye",
    "Polska",
    "UK",
    "Nordics",
    "Italia",
    "US",
    "Québec",
    "Benelux",
    "Österreich",
)
LOCATIONS = (
    "Paris",
    "Lyon",
    "Berlin",
    "München",
    "Madrid",
    "İstanbul",
    "Kraków",
    "London",
    "Malmö",
    "Montréal",
    "Zürich",
    "Remote",
)
LANGS = ("en", "fr", "de", "es", "it", "pl", "tr")

COURSE_PREFIXES = (
    "Introduction to",
    "Advanced",
    "Mastering",
    "Essentials of",
    "Workshop:",
    "Onboarding:",
    "Compliance:",
    "Quick guide to",
    "Les bases :",
    "Deep dive:",
)
COURSE_TOPICS = (
    "GDPR",
    "Negotiation",
    "Customer Success",
    "Cybersecurity",
    "Public Speaking",
    "Excel",
    "Feedback Culture",
    "Remote Work",
    "Product Management",
    "Sales Prospecting",
    "Diversity & Inclusion",
    "Time Management",
    "Data Literacy",
    "Workplace Safety",
    "Leadership",
    "Coaching",
    "Déontologie",
    "Qualité & Sécurité",
    "Café & Culture",
    "Anti-corruption",
    "Brand <Voice>",
    "Conflict Resolution",
    "SQL",
    "First Aid",
)
PROGRAM_KINDS = (
    "Leadership Program",
    "Sales Academy",
    "Manager Bootcamp",
    "Parcours Nouveaux Arrivants",
    "Compliance Campaign",
    "Tech Upskilling",
    "Customer Care Track",
)
PATH_KINDS = (
    "Onboarding Path",
    "Certification Track",
    "Sales Enablement",
    "Safety Journey",
    "Parcours Manager",
    "Data Skills Path",
    "Product Mastery",
)
SEASONS = ("Spring", "Summer", "Autumn", "Winter")

_FOLD = str.maketrans(
    {"ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "æ": "ae", "ß": "ss", "ı": "i", "đ": "d"}
)
_NOT_MAIL = re.compile(r"[^a-z0-9]+")


def mail_local(first: str, last: str) -> str:
    """ASCII local part of a mail address (`Łukasz Öztürk` → `lukasz.ozturk`)."""

    def fold(text: str) -> str:
        text = unicodedata.normalize("NFKD", text.translate(_FOLD))
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
        return _NOT_MAIL.sub("", text)

    return f"{fold(first)}.{fold(last)}"
