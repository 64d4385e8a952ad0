"""Random but mutually consistent values for the placeholders in ``evidence.json``.

One call to :func:`placeholder_values` draws every value for one picture, so a placeholder
that appears twice in a variant (``{merchant}`` on a statement line and in its heading) shows
the same text, and related values agree (a foreign amount and its converted home amount, a
requested and a dispensed cash amount).
"""

from __future__ import annotations

import datetime as dt
import random

# Approximate units of each currency per 1 GBP; enough to make conversions look plausible.
_PER_GBP = {
    "GBP": 1.0,
    "EUR": 1.17,
    "USD": 1.27,
    "CHF": 1.12,
    "JPY": 188.0,
    "PLN": 5.05,
    "TRY": 40.9,
    "THB": 45.6,
    "SEK": 13.4,
}
_SYMBOL = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥"}
_ABROAD = {
    "EUR": (
        ["Carrefour", "Mercadona", "Fnac", "Albert Heijn", "Rewe"],
        ["Paris", "Barcelona", "Berlin", "Rome", "Lisbon"],
    ),
    "USD": (
        ["Walmart", "Target", "CVS Pharmacy", "Whole Foods"],
        ["New York", "Miami", "Las Vegas", "Orlando"],
    ),
    "CHF": (["Migros", "Coop Pronto", "Manor"], ["Zurich", "Geneva", "Basel"]),
    "JPY": (["Lawson", "FamilyMart", "Uniqlo Ginza"], ["Tokyo", "Osaka", "Kyoto"]),
    "PLN": (["Biedronka", "Rossmann", "Empik"], ["Warsaw", "Kraków", "Gdańsk"]),
    "TRY": (["Migros Jet", "BIM", "LC Waikiki"], ["Istanbul", "Antalya", "Izmir"]),
    "THB": (["7-Eleven", "Big C", "Tops Market"], ["Bangkok", "Phuket", "Chiang Mai"]),
    "SEK": (["ICA Maxi", "Coop", "Åhlens"], ["Stockholm", "Gothenburg", "Malmö"]),
    "GBP": (["Tesco", "Boots", "Pret A Manger"], ["London", "Manchester", "Edinburgh"]),
}
_HOME = {
    "United Kingdom": ("GBP", ["London", "Manchester", "Leeds", "Bristol", "Glasgow", "Cardiff"]),
    "Ireland": ("EUR", ["Dublin", "Cork", "Galway"]),
    "Germany": ("EUR", ["Berlin", "Munich", "Hamburg", "Cologne"]),
    "France": ("EUR", ["Paris", "Lyon", "Marseille", "Lille"]),
    "Spain": ("EUR", ["Madrid", "Valencia", "Seville"]),
    "Netherlands": ("EUR", ["Amsterdam", "Utrecht", "Rotterdam"]),
}
BANKS = ["Nova Bank", "Finch", "Orbit Money", "Lumio", "Kestrel Bank", "Tally", "Beacon", "Quill"]
MERCHANTS = [
    "Tesco Stores",
    "Sainsbury's",
    "Pret A Manger",
    "Costa Coffee",
    "Boots",
    "Uber Trip",
    "Deliveroo",
    "Shell Garage",
    "Lidl",
    "Zara",
    "Primark",
    "IKEA",
    "Waterstones",
    "Greggs",
    "Aldi",
    "Starbucks",
    "McDonald's",
    "Currys",
    "Argos",
    "Co-op Food",
    "Trainline",
    "Superdrug",
]
ONLINE_MERCHANTS = [
    "Amazon",
    "eBay",
    "ASOS",
    "Netflix.com",
    "Spotify",
    "Booking.com",
    "Etsy",
    "Zalando",
    "Steam",
    "Airbnb",
    "AliExpress",
    "Vinted",
]
ODD_MERCHANTS = [
    "PAYPAL *KX93JZ",
    "SQ *BLUEDUNE LLC",
    "WWW.TRX-SVC.COM",
    "AMZN MKTP XQ7Q2",
    "GOOGLE *SVCS 8HK",
    "ZTL*DIGITAL GOODS",
    "FS *SOFTHUB.IO",
    "VPN*SECURENET",
    "BKG*HTL 44721",
    "MTX*GAMECREDITS",
    "APPLE.COM/BILL",
    "CRV*PARK 8821",
    "LNK*ONLINE SRV",
    "SP * NORDWAVE",
]
DD_PAYEES = [
    "GYMFLEX LTD",
    "BRIGHTLINE ENERGY",
    "CITY COUNCIL TAX",
    "NOVA MOBILE LTD",
    "HOMESAFE INSURANCE",
    "STREAMPLUS MEDIA",
    "PAYZONE CREDIT",
    "LEXA SUBSCRIPTIONS",
]
ATMS = [
    "Cardtronics",
    "Euronet",
    "Notemachine",
    "Post Office",
    "Santander",
    "HSBC",
    "Travelex",
    "Sparkasse",
    "Barclays",
    "Your Cash",
]
FIRST = [
    "James",
    "Olivia",
    "Amir",
    "Sofia",
    "Liam",
    "Chloe",
    "Mateusz",
    "Aisha",
    "Lucas",
    "Emma",
    "Daniel",
    "Priya",
    "Tom",
    "Hannah",
    "Marco",
    "Zoe",
    "Kwame",
    "Elena",
]
LAST = [
    "Smith",
    "Kowalski",
    "Patel",
    "García",
    "Müller",
    "O'Brien",
    "Nguyen",
    "Rossi",
    "Okafor",
    "Jones",
    "Dubois",
    "Khan",
    "Taylor",
    "Novak",
    "Silva",
    "Evans",
]
PHONES = [
    "iPhone 13",
    "iPhone 15 Pro",
    "iPhone 12 mini",
    "Samsung Galaxy S23",
    "Google Pixel 8",
    "Samsung Galaxy A54",
    "OnePlus 11",
]
UNSUPPORTED = [
    "United States",
    "Canada",
    "India",
    "China",
    "Brazil",
    "Mexico",
    "Nigeria",
    "Australia",
    "South Africa",
    "Indonesia",
]
ODD_FIAT = ["ARS", "NGN", "VND", "KZT", "EGP", "PKR", "UAH", "BOB"]
EMPLOYERS = [
    "ACME LTD SALARY",
    "Brightwave Ltd",
    "NORTHWIND PAYROLL",
    "City Hospital Trust",
    "Globex Payroll",
    "Harbour Logistics",
]
STREETS = ["High Street", "Station Road", "Church Lane", "Park Avenue", "Mill Road", "Queen Street"]
MAIL_DOMAINS = ["gmail.com", "outlook.com", "icloud.com", "yahoo.co.uk"]
DATE_FORMATS = ["%d %b %Y", "%d/%m/%Y", "%b %d, %Y", "%d.%m.%Y", "%d %B %Y"]
_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def money(value: float, code: str, *, sign: str = "") -> str:
    """Formats an amount the way a banking app shows it.

    Args:
        value: The amount, non-negative.
        code: ISO currency code.
        sign: Optional "-" or "+" written before the amount.

    Returns:
        Text such as "£1,234.50", "¥4,200" or "PLN 45.00".
    """
    number = f"{value:,.0f}" if code == "JPY" else f"{value:,.2f}"
    if code in _SYMBOL:
        return f"{sign}{_SYMBOL[code]}{number}"
    return f"{sign}{code} {number}"


def parse_money(text: str) -> float:
    """Reads back the number from :func:`money` text (sign kept); 0.0 when there is none."""
    digits = "".join(ch for ch in text if ch.isdigit() or ch == ".")
    if not digits.strip("."):
        return 0.0
    value = float(digits)
    return -value if text.strip().startswith("-") else value


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(count))


def _price(rng: random.Random, low: float, high: float) -> float:
    # Shop prices cluster on .99/.49/.00 endings; other amounts are arbitrary pence.
    value = rng.uniform(low, high)
    if rng.random() < 0.4:
        return int(value) + rng.choice([0.99, 0.49, 0.0])
    return round(value, 2)


def placeholder_values(rng: random.Random) -> dict[str, str]:
    """Draws one consistent set of values for every placeholder used in ``evidence.json``.

    Args:
        rng: Source of randomness; the only one used.

    Returns:
        Mapping from placeholder name (without braces) to its text.
    """
    home_country = rng.choice(list(_HOME))
    cur, cities = _HOME[home_country]
    fx_pool = [c for c in _PER_GBP if c != cur]
    fx = rng.choice(fx_pool)
    fx2 = rng.choice([c for c in fx_pool if c != fx])
    per_home = {c: _PER_GBP[c] / _PER_GBP[cur] for c in _PER_GBP}
    rate = per_home[fx] * rng.uniform(0.985, 1.015)
    bad_rate = rate * rng.uniform(0.92, 0.97)  # fewer foreign units per home unit: worse deal
    fx_merchants, fx_cities = _ABROAD[fx]

    amount, amount2 = _price(rng, 2.5, 180), _price(rng, 2.5, 90)
    fee = rng.choice([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.99, round(amount * 0.02 + 0.3, 2)])
    cash = rng.choice([20, 40, 50, 60, 80, 100, 150, 200, 250, 300])
    cash_got = cash - rng.choice([v for v in (10, 20, 40, 50, 100) if v < cash])
    fx_cash = rng.choice([50, 100, 150, 200, 300]) * max(1, round(per_home[fx] / 5) * 5)
    fx_amount = amount * rate

    day = dt.date(2023, 1, 2) + dt.timedelta(days=rng.randrange(900))
    date_fmt = rng.choice(DATE_FORMATS)
    exp_year = day.year + rng.randint(1, 4)
    child_age = rng.randint(8, 16)
    first, last = rng.choice(FIRST), rng.choice(LAST)
    recipient = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    iso = {
        "United Kingdom": "GB",
        "Ireland": "IE",
        "Germany": "DE",
        "France": "FR",
        "Spain": "ES",
        "Netherlands": "NL",
    }[home_country]
    iban = f"{iso}{_digits(rng, 2)} NOVA {_digits(rng, 4)} {_digits(rng, 4)} {_digits(rng, 4)}"
    city = rng.choice(cities)
    odd = rng.sample(ODD_MERCHANTS, 2)
    shops = rng.sample(MERCHANTS, 2)
    return {
        "bank": rng.choice(BANKS),
        "currency": cur,
        "fx_currency": fx,
        "fx_currency2": fx2,
        "amount": money(amount, cur),
        "amount2": money(amount2, cur),
        "amount_fee": money(amount + fee, cur),
        "amount_bad": money(fx_amount / bad_rate, cur),
        "big_amount": money(rng.choice([rng.randrange(5, 300) * 10.0, _price(rng, 40, 3000)]), cur),
        "balance": money(rng.uniform(3, 4200), cur),
        "one": money(1.0, cur),
        "tiny": money(rng.randint(1, 99) / 100, cur),
        "fee": money(fee, cur),
        "fee_pct": rng.choice(["1%", "1.5%", "2%", "2.5%", "3%"]),
        "cash": money(cash, cur),
        "cash_got": money(cash_got, cur),
        "cash_fee": money(cash + fee, cur),
        "fx_amount": money(fx_amount, fx),
        "fx_cash": money(fx_cash, fx),
        "cash_bad": money(fx_cash / bad_rate, cur),
        "rate": f"{rate:.4f}",
        "rate2": f"{per_home[fx2] * rng.uniform(0.985, 1.015):.4f}",
        "bad_rate": f"{bad_rate:.4f}",
        "limit": money(rng.choice([3000, 5000, 10000, 20000]), cur).replace(".00", ""),
        "limit_small": money(rng.choice([250, 500, 1000, 2000]), cur).replace(".00", ""),
        "merchant": shops[0],
        "merchant2": shops[1],
        "online_merchant": rng.choice(ONLINE_MERCHANTS),
        "odd_merchant": odd[0],
        "odd_merchant2": odd[1],
        "foreign_merchant": rng.choice(fx_merchants),
        "foreign_city": rng.choice(fx_cities),
        "dd_payee": rng.choice(DD_PAYEES),
        "employer": rng.choice(EMPLOYERS),
        "atm": rng.choice(ATMS),
        "last4": _digits(rng, 4),
        "last4b": _digits(rng, 4),
        "account": _digits(rng, 4),
        "account_full": _digits(rng, 8),
        "sort_code": f"{_digits(rng, 2)}-{_digits(rng, 2)}-{_digits(rng, 2)}",
        "iban": iban,
        "date": day.strftime(date_fmt),
        "date2": (day + dt.timedelta(days=rng.randint(1, 6))).strftime(date_fmt),
        "future_date": (day + dt.timedelta(days=rng.randint(3, 14))).strftime(date_fmt),
        "time": f"{rng.randint(6, 23):02d}:{rng.randint(0, 59):02d}",
        "days": str(rng.randint(8, 24)),
        "exp": f"{rng.randint(1, 12):02d}/{exp_year % 100:02d}",
        "exp_soon": f"{day.month:02d}/{day.year % 100:02d}",
        "child_dob": day.replace(year=day.year - child_age, day=min(day.day, 28)).strftime(
            date_fmt
        ),
        "child_age": str(child_age),
        "name": f"{first} {last}",
        "recipient": recipient,
        "email": f"{first[0].lower()}•••{last[-1].lower()}@{rng.choice(MAIL_DOMAINS)}",
        "address": f"{rng.randint(1, 180)} {rng.choice(STREETS)}, {city}",
        "phone": rng.choice(PHONES),
        "ref": "".join(rng.choice(_ALNUM) for _ in range(rng.choice([8, 10]))),
        "code": _digits(rng, 6),
        "code4": _digits(rng, 4),
        "network": rng.choice(["Visa", "Mastercard"]),
        "home_country": home_country,
        "country": rng.choice(UNSUPPORTED),
        "city": city,
        "odd_fiat": rng.choice(ODD_FIAT),
    }
