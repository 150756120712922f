#!/usr/bin/env python3
"""Generate tests/data/phones-labelled.jsonl: messages the way leads write
them, labelled by construction (the expected E.164 comes from the digits we
wrote, never from the extractor under test). Every label is also checked
valid with libphonenumber when the `phonenumbers` package is installed.

    python3 tools/gen_labelled.py > tests/data/phones-labelled.jsonl
"""
import json
import random
import re

R = random.Random(20260403)

UNITS = "ноль один два три четыре пять шесть семь восемь девять".split()
TEENS = ("десять одиннадцать двенадцать тринадцать четырнадцать пятнадцать "
         "шестнадцать семнадцать восемнадцать девятнадцать").split()
TENS = [None, None] + "двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто".split()
HUNDREDS = [None] + "сто двести триста четыреста пятьсот шестьсот семьсот восемьсот девятьсот".split()

MOBILE_CODES = [c for c in range(900, 1000) if c // 10 != 93]
LANDLINE3 = ["495", "499", "812", "861", "863", "843", "846", "383", "343", "351", "391", "423",
             "473", "342", "831", "862", "865", "347", "401", "421"]
LANDLINE4 = ["8632", "8634", "3452", "3812", "4722", "4932", "8442", "8182", "4112", "3952"]
KZ_CODES = ["700", "701", "702", "705", "707", "708", "747", "771", "775", "776", "777", "778"]
BY_CODES = ["29", "33", "44"]
UA_CODES = ["50", "66", "67", "68", "63", "73", "93", "97", "98", "99"]
UZ_CODES = ["90", "91", "93", "94", "95", "97", "99", "88", "33"]

PREFIXES = ["", "", "мой номер ", "Телефон ", "тел. ", "т. ", "звоните ", "наберите ", "вот мой телефон ",
            "пишите в вотсап ", "ватсап/телеграм ", "Контакт: ", "номер: ", "мобильный ", "перезвоните на ",
            "можно по номеру ", "жена: ", "сотовый ", "Добрый день! Мой телефон ", "связь: "]
SUFFIXES = ["", "", "", " спасибо", " спс", " (Анна)", " — Ирина Петровна", ". Жду звонка", "!",
            " до 20 часов", " после 18:00", ", звоните в любое время", " — это whatsapp", " Сергей",
            " в рабочее время", " 🙏"]


def words3(n, width):
    """Say a group of `width` digits the way Russians dictate it."""
    s = str(n).zfill(width)
    out = []
    # Leading zeros are said one by one ("ноль пять").
    while len(s) > 1 and s[0] == "0":
        out.append(UNITS[0])
        s = s[1:]
    v = int(s)
    if len(s) == 1:
        out.append(UNITS[v])
        return out
    h, t, u = v // 100, (v // 10) % 10, v % 10
    if h:
        out.append(HUNDREDS[h])
    if t == 1:
        out.append(TEENS[u])
    else:
        if t:
            out.append(TENS[t])
        if u or (not h and not t):
            out.append(UNITS[u])
    return out


def digits(n):
    return "".join(str(R.randint(0, 9)) for _ in range(n))


def ru_mobile():
    return str(R.choice(MOBILE_CODES)), digits(7)


def ru_landline():
    if R.random() < 0.6:
        return R.choice(LANDLINE3), str(R.randint(2, 9)) + digits(6)
    return R.choice(LANDLINE4), str(R.randint(2, 9)) + digits(5)


def split_sub(s, pattern=None):
    """Split a subscriber number into groups (3-2-2 mostly, as people do)."""
    if pattern is None:
        pattern = {7: [(3, 2, 2), (7,), (3, 4), (2, 3, 2), (3, 2, 2)],
                   6: [(2, 2, 2), (3, 3), (6,)], 5: [(3, 2), (5,)]}[len(s)]
        pattern = R.choice(pattern)
    out, i = [], 0
    for p in pattern:
        out.append(s[i:i + p])
        i += p
    return out


def fmt_ru(code, sub, style=None):
    g = split_sub(sub)
    sep = R.choice(["-", " ", "-"])
    tail = sep.join(g)
    styles = [
        f"+7 {code} {tail}", f"8 ({code}) {tail}", f"8{code}{sub}", f"+7{code}{sub}",
        f"8 {code} {' '.join(g)}", f"+7 ({code}) {tail}", f"8-{code}-{'-'.join(g)}",
        f"8.{code}.{'.'.join(g)}", f"8({code}){sub}", f"+7-{code}-{'-'.join(g)}", f"7 {code} {sub}",
        f"8 {code} {sub}", f"7{code}{sub}", f"+7 {code} {sub}", f"8{code} {' '.join(g)}",
        f"+7({code}){tail}", f"8 ({code}){tail}",
    ]
    if style is not None:
        return styles[style]
    return R.choice(styles)


def ex(cat, text, want, region="RU"):
    return {"cat": cat, "region": region, "text": text, "want": want}


def wrap(s):
    return R.choice(PREFIXES) + s + R.choice(SUFFIXES)


def gen_plain(n):
    for _ in range(n):
        c, s = ru_mobile()
        yield ex("plain", fmt_ru(c, s), [f"+7{c}{s}"])
    for _ in range(n // 5):
        c, s = ru_mobile()
        yield ex("plain", f"{c}{s}", [f"+7{c}{s}"])  # bare ten digits


def gen_in_text(n):
    for _ in range(n):
        c, s = ru_mobile()
        t = fmt_ru(c, s)
        yield ex("in_text", R.choice(PREFIXES[2:]) + t + R.choice(SUFFIXES[3:]), [f"+7{c}{s}"])


def gen_landline(n):
    for _ in range(n):
        a, s = ru_landline()
        g = " ".join(split_sub(s)) if R.random() < 0.3 else "-".join(split_sub(s))
        t = R.choice([f"8 ({a}) {g}", f"+7 {a} {g}", f"8{a}{s}", f"+7 ({a}) {g}", f"8 {a} {g}",
                      f"8 ({a}) {s}", f"7{a}{s}", f"+7{a}{s}", f"({a}) {g}"])
        yield ex("landline", wrap(t), [f"+7{a}{s}"])


def gen_tollfree(n):
    for _ in range(n):
        s = digits(7)
        g = split_sub(s)
        t = R.choice([f"8 800 {' '.join(g)}", f"8-800-{'-'.join(g)}", f"8800{s}", f"8 (800) {'-'.join(g)}",
                      f"+7 800 {' '.join(g)}", f"8 800 {s}", f"8.800.{'.'.join(g)}"])
        pre = R.choice(["", "бесплатно: ", "звоните на горячую линию ", "горячая линия ", "справочная "])
        yield ex("tollfree", pre + t + R.choice(SUFFIXES), [f"+7800{s}"])


def gen_foreign(n):
    for i in range(n):
        k = i % 5
        if k == 0:
            c, s = R.choice(KZ_CODES), digits(7)
            t, want = f"+7 {c} {' '.join(split_sub(s))}", f"+7{c}{s}"
        elif k == 1:
            c, s = R.choice(BY_CODES), str(R.randint(1, 9)) + digits(6)
            t = R.choice([f"+375 ({c}) {'-'.join(split_sub(s))}", f"+375 {c} {' '.join(split_sub(s))}",
                          f"+375{c}{s}"])
            want = f"+375{c}{s}"
        elif k == 2:
            c, s = R.choice(UA_CODES), digits(7)
            t = R.choice([f"+380 {c} {' '.join(split_sub(s))}", f"+380 ({c}) {'-'.join(split_sub(s))}",
                          f"+380{c}{s}"])
            want = f"+380{c}{s}"
        elif k == 3:
            c, s = R.choice(UZ_CODES), digits(7)
            t = R.choice([f"+998 {c} {' '.join(split_sub(s))}", f"+998 ({c}) {'-'.join(split_sub(s))}",
                          f"+998{c}{s}"])
            want = f"+998{c}{s}"
        else:
            c, s = R.choice(KZ_CODES), digits(7)
            t, want = R.choice([f"8 {c} {' '.join(split_sub(s))}", f"+7 ({c}) {'-'.join(split_sub(s))}"]), f"+7{c}{s}"
        yield ex("foreign", wrap(t), [want])


def gen_two(n):
    joins = [", ", " или ", "; ", ", муж ", " и ", " / ", "\n", ", доп. ", " либо "]
    for _ in range(n):
        c1, s1 = ru_mobile()
        c2, s2 = ru_mobile() if R.random() < 0.8 else ru_landline()
        t1, t2 = fmt_ru(c1, s1), fmt_ru(c2, s2, style=R.choice([0, 1, 3, 5, 6]))
        pre = R.choice(["", "мой ", "звоните ", "Телефоны: ", "мой "])
        yield ex("two_numbers", pre + t1 + R.choice(joins) + t2, [f"+7{c1}{s1}", f"+7{c2}{s2}"])


def gen_glued(n):
    glue = ["тел", "ватсап-", "📞", "т.", "номер:", "☎️", "tel:", "моб.", "Тел.:", "whatsapp:", "👉", "звони"]
    for _ in range(n):
        c, s = ru_mobile()
        t = R.choice([f"+7{c}{s}", f"8{c}{s}", f"+7({c}){s}"])
        end = R.choice(["", "", " спасибо", "👍", "!!"])
        yield ex("hard_glued", R.choice(glue) + t + end, [f"+7{c}{s}"])


def gen_letters(n):
    for _ in range(n):
        c, s = ru_mobile()
        if "0" not in c + s:
            s = s[:3] + "0" + s[4:]
        t = fmt_ru(c, s, style=R.choice([0, 1, 4, 5, 6]))
        # Replace one or two zeros (not the leading 8/+7) by Latin or Cyrillic O.
        head, body = t[:3], t[3:]
        idx = [i for i, ch in enumerate(body) if ch == "0"]
        for i in R.sample(idx, min(len(idx), R.choice([1, 1, 2]))):
            body = body[:i] + R.choice("OОoо") + body[i + 1:]
        yield ex("hard_letters", wrap(head + body), [f"+7{c}{s}"])


def gen_spaced(n):
    for i in range(n):
        c, s = ru_mobile()
        full = "8" + c + s
        k = i % 5
        if k == 0:
            t = " ".join(full)
        elif k == 1:
            t = f"8-{c[0]}-{c[1:]}-{s[:4]}-{s[4:]}"
        elif k == 2:
            t = f"+7 {c}-{s[:2]}-{s[2:4]}-{s[4:]}"
        elif k == 3:
            t = "\u00a0".join(["8", c, s[:3], s[3:5], s[5:]])
        else:
            t = f"+7 {c} {s[:2]} {s[2:5]} {s[5:]}"
        yield ex("hard_spaced", wrap(t), [f"+7{c}{s}"])


def gen_words(n):
    for i in range(n):
        c, s = ru_mobile()
        k = i % 4
        if k == 0:  # all digits said one by one
            t = " ".join(UNITS[int(d)] for d in "8" + c + s)
        elif k == 1:  # 8 and code in digits, the rest one by one
            t = f"8 {c} " + " ".join(UNITS[int(d)] for d in s)
        elif k == 2:  # 3-3-2-2 compound numerals
            parts = ["восемь"] + words3(int(c), 3) + words3(int(s[:3]), 3) + words3(int(s[3:5]), 2) + words3(int(s[5:]), 2)
            if s[:3].endswith("00") and s[3] == "1":
                continue  # "девятьсот пятнадцать" is ambiguous when spoken too
            t = " ".join(parts)
        else:  # mixed: digits then compound
            parts = words3(int(s[:3]), 3) + words3(int(s[3:5]), 2) + words3(int(s[5:]), 2)
            if s[:3].endswith("00") and s[3] == "1":
                continue
            t = f"8 {c} " + " ".join(parts)
        yield ex("hard_words", wrap(t), [f"+7{c}{s}"])


def gen_regions(n):
    for i in range(n):
        k = i % 4
        if k == 0:
            c, s = R.choice(UZ_CODES), digits(7)
            t = R.choice([f"{c} {s[:3]} {s[3:5]} {s[5:]}", f"({c}) {s[:3]}-{s[3:5]}-{s[5:]}", f"+998 {c} {s}"])
            yield ex("region", wrap(t), [f"+998{c}{s}"], "UZ")
        elif k == 1:
            c, s = R.choice(KZ_CODES), digits(7)
            t = R.choice([f"8 {c} {s[:3]} {s[3:5]} {s[5:]}", f"8({c}){s}", f"+7 {c} {s}"])
            yield ex("region", wrap(t), [f"+7{c}{s}"], "KZ")
        elif k == 2:
            c, s = R.choice(BY_CODES), str(R.randint(1, 9)) + digits(6)
            t = R.choice([f"8 0{c} {s[:3]}-{s[3:5]}-{s[5:]}", f"8 (0{c}) {s}", f"+375 {c} {s}", f"({c}) {s[:3]}-{s[3:5]}-{s[5:]}"])
            yield ex("region", wrap(t), [f"+375{c}{s}"], "BY")
        else:
            c, s = R.choice(UA_CODES), digits(7)
            t = R.choice([f"0{c} {s[:3]} {s[3:5]} {s[5:]}", f"(0{c}) {s[:3]}-{s[3:5]}-{s[5:]}", f"+380 {c} {s}"])
            yield ex("region", wrap(t), [f"+380{c}{s}"], "UA")


def date():
    return f"{R.randint(1, 28):02d}.{R.randint(1, 12):02d}.20{R.randint(20, 27)}"


def gen_negative(n):
    makers = [
        lambda: f"заказ №{digits(9)} от {date()}",
        lambda: f"номер заказа {R.choice(MOBILE_CODES)}{digits(7)}",
        lambda: f"заказ {R.choice(['№', '# ', 'номер '])}{digits(R.choice([6, 8, 10, 11]))}",
        lambda: f"ИНН {R.randint(10, 99)}{digits(8)}",
        lambda: f"ИНН {R.randint(10, 99)}{digits(10)}",
        lambda: f"ОГРН {R.randint(1, 5)}{digits(12)}",
        lambda: f"ОГРНИП 3{digits(14)}",
        lambda: f"СНИЛС {digits(3)}-{digits(3)}-{digits(3)} {digits(2)}",
        lambda: f"паспорт {R.randint(10, 99)}{digits(2)} {digits(6)}",
        lambda: f"паспорт серия {digits(2)} {digits(2)} номер {digits(6)}",
        lambda: f"карта {R.choice(['2202', '4276', '5536', '2200'])} {digits(4)} {digits(4)} {digits(4)}",
        lambda: f"номер карты {R.choice(['2202', '4276', '5536'])}{digits(12)}",
        lambda: f"индекс {R.randint(101, 692)}{digits(3)}, {R.choice(['Ростов-на-Дону', 'Москва', 'Казань'])}, ул. Садовая {R.randint(1, 200)}",
        lambda: f"трек-номер R{R.choice('ABCEL')}{digits(9)}RU",
        lambda: f"трек {R.choice(['8', '1', '4'])}{digits(13)}",
        lambda: f"артикул {digits(R.choice([6, 8, 10]))}",
        lambda: f"нужно {R.randint(2, 99)} шт, артикул {digits(8)}",
        lambda: f"цена {R.randint(1, 999)} {digits(3)} руб",
        lambda: f"итого {R.randint(1, 99)} {digits(3)} ₽",
        lambda: f"время {R.randint(8, 21)}:{R.choice(['00', '15', '30', '45'])}, дата 20{R.randint(24, 27)}-{R.randint(1, 12):02d}-{R.randint(1, 28):02d}",
        lambda: f"доставка {date()} с {R.randint(8, 12)}:00 до {R.randint(13, 21)}:00",
        lambda: f"с {date()} по {date()}",
        lambda: f"счёт {digits(20)}",
        lambda: f"р/с 40702810{digits(12)}, БИК 04{digits(7)}",
        lambda: f"8 ({R.choice(MOBILE_CODES)}) {digits(3)}-{digits(2)}",
        lambda: f"+7 {R.choice(MOBILE_CODES)} {digits(2)}",
        lambda: f"8 {R.choice(MOBILE_CODES)} {digits(3)} {digits(2)}",
        lambda: f"мой номер 8 {R.choice(MOBILE_CODES)} {digits(3)}",
        lambda: f"код из смс {digits(6)}",
        lambda: f"ул. Ленина {R.randint(1, 150)}, кв. {R.randint(1, 300)}, домофон {R.randint(1, 300)}",
        lambda: f"рост {R.randint(150, 200)}, вес {R.randint(45, 120)}, размер {R.randint(40, 56)}-{R.randint(40, 56)}",
        lambda: f"Счёт-фактура № {digits(8)} от {date()}",
        lambda: f"договор {digits(2)}-{digits(4)}/{digits(2)} от {date()}",
        lambda: f"перевела {R.randint(1, 50)} {digits(3)} рублей",
        lambda: "привет, когда перезвоните?",
        lambda: "сколько стоит доставка в Ростов?",
        lambda: f"нужно {R.randint(2, 40)} штук к {date()}",
        lambda: f"полис ОМС {digits(16)}",
        lambda: f"накладная {digits(10)}",
    ]
    for i in range(n):
        yield ex("negative", makers[i % len(makers)](), [])


# --- Beyond the veto list (issue 10) --------------------------------------
# The negatives above are each introduced by a word the extractor vetoes
# (ИНН, заказ, карта, №...). The categories below test what that list does
# not cover: digit runs that are not phones although no such word is near
# ("negative_plain"), real phones standing near those words without being
# introduced by them ("kw_positive"), and other-number words that do
# introduce a phone-shaped number through "номер"/a possessive
# ("negative_kw"). Labels are what a human operator would write down.

# The words the extractor's context vetoes (exact words, then prefixes) and
# the amount units; negative_plain texts must contain none of them, so they
# are caught (or not) by their shape alone.
VETO_EXACT = {"инн", "кпп", "бик", "огрн", "огрнип", "окпо", "октмо", "снилс", "арт", "сч", "код", "пин", "pin",
              "cvv", "cvc", "id", "iban", "swift", "inn", "sku", "ref", "л/с", "р/с", "к/с", "рс", "кс", "лс",
              "серия", "полис", "омс", "дмс", "vin", "imei", "no", "р"}
VETO_PREFIX = ["паспорт", "карт", "заказ", "счет", "индекс", "артикул", "трек", "договор", "накладн", "квитанц",
               "чек", "платеж", "реквизит", "лицев", "расчетн", "корр", "order", "invoice", "track", "account",
               "card", "passport", "сертификат", "талон", "заявк", "отправлен", "посылк", "почтов", "штрих",
               "barcode", "модел", "лот", "партия", "сумм", "цена", "стоимост", "итого", "оплат", "инвентар",
               "серийн", "номенклатур", "руб", "тыс", "млн", "коп", "шт", "кг", "грн", "тенге", "usd", "eur"]
VETO_SIGNS = "№#₽$€%₸"


def veto_words(text):
    words = re.findall(r"[^\W\d_]+(?:/[^\W\d_]+)?", text.lower().replace("ё", "е"))
    return ([w for w in words if w in VETO_EXACT or any(w.startswith(p) for p in VETO_PREFIX)]
            + [c for c in text if c in VETO_SIGNS])


NAMES = ["Анна", "Сергей", "Ирина Петровна", "Олег", "Марина", "Дмитрий", "Елена", "Артём"]
ORGS = ["Вектор", "Ромашка", "СтройДон", "Альфа-Трейд", "Южный берег", "Меридиан"]
ITEMS = ["кухню", "шкаф-купе", "диван", "двери", "окна", "матрас", "прихожую"]


def thousands(n, sep):
    s = str(n)
    head = len(s) % 3 or 3
    return sep.join([s[:head]] + [s[i:i + 3] for i in range(head, len(s), 3)])


def amount_range():
    if R.random() < 0.5:
        lo = R.randrange(900, 1000, 10) * 1000
        hi = R.choice([1_100_000, 1_200_000, 1_250_000, 1_300_000, 1_500_000])
    else:
        lo = R.randrange(8_500, 9_600, 50) * 1000
        hi = lo + R.choice([300_000, 500_000, 700_000, 1_000_000])
    sep = R.choice([" ", " ", "\u00a0", "."])
    dash = R.choice(["-", " - ", " – ", "–", " — "])
    return thousands(lo, sep) + dash + thousands(hi, sep)


def ip():
    a = R.choice([89, 89, 79, 79, 91, 95, 178, 192, 10, 85, 46, 37, 213, 217])
    if a == 192:
        return f"192.168.{R.randint(0, 2)}.{R.randint(1, 254)}"
    if a == 10:
        return f"10.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"
    # Three-digit octets make the 2+3+3+3 = 11 digits a trunk-prefixed mobile would have.
    return f"{a}.{R.randint(100, 255)}.{R.randint(100, 255)}.{R.randint(100, 254)}"


def coords():
    lat, lon = R.uniform(43, 60), R.uniform(30, 60)
    k = R.choice([4, 5, 6, 6])
    return R.choice([f"{lat:.{k}f} {lon:.{k}f}", f"{lat:.{k}f}, {lon:.{k}f}", f"{lat:.{k}f},{lon:.{k}f}"])


def inn10():
    # Regions 01-89: a bare 10-digit run starting 9x would be a mobile to a human as well.
    return f"{R.randint(1, 89):02d}{digits(8)}"


def card():
    g = [R.choice(["2202", "2200", "4276", "5536", "4817", "5469"])] + [digits(4) for _ in range(3)]
    return R.choice([" ", " ", "-", ""]).join(g)


def time_range():
    a, b = R.randint(8, 11), R.randint(17, 21)
    m = R.choice(["00", "30"])
    return R.choice([f"{a}:{m}-{b}:00", f"{a}.{m}-{b}.00", f"с {a}:{m} до {b}:00", f"с {a}.{m} до {b}.{m}"])


def gen_negative_plain(n):
    """No veto word at all: dates, times, amounts, requisites, cards, IPs..."""
    makers = [
        lambda: f"бюджет {amount_range()}",
        lambda: f"рассматриваем варианты {amount_range()}, не дороже",
        lambda: f"{amount_range()} за двушку в центре нормально?",
        lambda: f"ипотеку одобрили, смотрим {amount_range()}",
        lambda: f"не открывается сайт, ошибка с адреса {ip()}",
        lambda: f"мой IP {ip()}",
        lambda: f"пингую {ip()} — таймаут",
        lambda: f"прописал DNS {ip()} и {ip()}",
        lambda: f"сервер {ip()}:{R.choice([22, 80, 443, 3389, 8080])} не отвечает",
        lambda: f"координаты {coords()}",
        lambda: f"скинул геолокацию {coords()}, это въезд со двора",
        lambda: f"{coords()} — вот тут склад",
        lambda: f"приеду {date()} к {R.randint(8, 18)}:{R.choice(['00', '30'])}",
        lambda: f"с {date()} по {date()} в отпуске",
        lambda: f"20{R.randint(24, 27)}-{R.randint(1, 12):02d}-{R.randint(1, 28):02d} {R.randint(8, 20)}:{R.choice(['00', '15', '30'])} подходит",
        lambda: f"{R.randint(1, 28):02d}/{R.randint(1, 12):02d}/20{R.randint(24, 27)} удобно",
        lambda: f"{R.randint(1, 28):02d}.{R.randint(1, 12):02d}.{R.randint(24, 27)} в {R.randint(9, 19)}.{R.choice(['00', '30'])}",
        lambda: f"работаем пн-пт {time_range()}, сб {R.randint(9, 11)}:00-{R.randint(14, 16)}:00",
        lambda: f"удобно {time_range()}",
        lambda: f"ООО «{R.choice(ORGS)}» {inn10()}/{digits(4)}01001",
        lambda: f"ООО {R.choice(ORGS)}, {inn10()} {digits(4)}01001, {R.randint(1, 5)}{digits(12)}",
        lambda: f"ИП Иванов И.И. {R.randint(1, 89):02d}{digits(10)}",
        lambda: f"Сбербанк, 40702810{digits(12)}",
        lambda: f"40817 810 {R.randint(0, 9)} {digits(4)} {digits(7)} — Тинькофф",
        lambda: f"Сбербанк 04{digits(7)}, 30101810{digits(12)}",
        lambda: f"скинь на {card()}",
        lambda: f"{card()} Иван Иванович",
        lambda: f"отслеживание {R.randint(101, 692)}{digits(3)}{digits(8)} стоит на таможне",
        lambda: f"СДЭК 1{digits(9)}, где она?",
        lambda: f"Ozon {digits(8)}-{digits(4)}-{R.randint(1, 3)} пришёл не тот цвет",
        lambda: f"обновил 1С до 8.3.{R.randint(20, 25)}.{R.randint(1000, 1999)}",
        lambda: f"iOS {R.randint(15, 18)}.{R.randint(0, 6)}.{R.randint(1, 3)}, приложение вылетает",
        lambda: f"версия {R.randint(1, 9)}.{R.randint(0, 20)}.{R.randint(0, 9)} (сборка {digits(4)}{R.randint(1, 12):02d}{R.randint(1, 28):02d})",
        lambda: f"кадастровый {R.randint(10, 99)}:{R.randint(10, 99)}:{digits(7)}:{R.randint(1, 999)}",
        lambda: f"ул. Садовая {R.randint(1, 200)}, кв. {R.randint(1, 300)}, подъезд {R.randint(1, 9)}, этаж {R.randint(1, 25)}",
        lambda: f"размеры {R.randint(180, 240)}х{R.randint(80, 100)}х{R.randint(70, 90)} см",
        lambda: f"взяли бы за {thousands(R.randrange(8_500, 9_900, 50) * 1000, ' ')}",
        lambda: f"нужно {R.randint(2, 9)}-{R.randint(10, 20)} человек на {date()}",
    ]
    for i in range(n):
        text = makers[i % len(makers)]()
        assert not veto_words(text), (text, veto_words(text))
        yield ex("negative_plain", text, [])


STRONG = [0, 1, 3, 5, 8, 9, 13, 15, 16]  # fmt_ru styles with "+" or the code in brackets


def gen_kw_positive(n):
    """A real phone in a message that also has ИНН/заказ/карта/цена... words."""
    makers = [
        lambda p: f"номер заказа {digits(7)}, мой телефон {p}",
        lambda p: f"ИНН {inn10()}, тел. {p}",
        lambda p: f"Заказ на завтра, {p}",
        lambda p: f"хочу заказать {R.choice(ITEMS)} {p}",
        lambda p: f"хочу заказать {R.choice(ITEMS)}, {p} {R.choice(NAMES)}",
        lambda p: f"Оплата картой при получении, {p}",
        lambda p: f"оплата картой при получении {p}",
        lambda p: f"трек так и не пришёл {p}",
        lambda p: f"код домофона не работает, {p}",
        lambda p: f"Цена устраивает, {p} {R.choice(NAMES)}",
        lambda p: f"ИНН и реквизиты пришлю позже, {p}",
        lambda p: f"по заказу {digits(5)} {p}",
        lambda p: f"индекс {R.randint(101, 692)}{digits(3)} {p}",
        lambda p: f"Хочу сделать заказ. {p}",
        lambda p: f"{p}, заказ №{digits(6)}",
        lambda p: f"заказ {digits(6)} оплачен, жду доставку. {p}",
        lambda p: f"договорились {p}",
        lambda p: f"договор подписали, перезвоните {p}",
        lambda p: f"артикул {digits(8)} есть в наличии? {p}",
        lambda p: f"паспорт привезу при встрече, {p}",
        lambda p: f"{p} (счёт на {thousands(R.randint(5, 90) * 1000, ' ')} руб оплачу завтра)",
        lambda p: f"сумма ок, предоплату внесу. {p}",
        lambda p: f"Счёт пришлите на почту, для связи {p}",
        lambda p: f"доставка {date()}, {p}",
        lambda p: f"хочу оформить заказ: {p}",
        lambda p: f"карта лояльности есть, {p}",
    ]
    strong_only = {24}  # a bare "8916..." after "заказ:" could be an order; "+7"/"(916)" cannot
    for i in range(n):
        k = i % len(makers)
        c, s = ru_mobile()
        p = fmt_ru(c, s, style=R.choice(STRONG) if k in strong_only else None)
        yield ex("kw_positive", makers[k](p), [f"+7{c}{s}"])


def gen_negative_kw(n):
    """Other-number words introducing a phone-shaped number via номер/a possessive."""
    makers = [
        lambda m: f"заказ номер {m}",
        lambda m: f"номер вашего заказа {m}",
        lambda m: f"заказ № {m}",
        lambda m: f"номер моего заказа: {m}",
        lambda m: f"ИНН организации 91{digits(8)}",
        lambda m: f"лицевой счёт {m}",
        lambda m: f"номер договора {m}",
        lambda m: f"номер заявки {m}, когда будет готово?",
    ]
    for i in range(n):
        c, s = ru_mobile()
        yield ex("negative_kw", makers[i % len(makers)](f"{c}{s}"), [])


def main():
    gens = [gen_plain(60), gen_in_text(60), gen_landline(60), gen_tollfree(50), gen_foreign(60),
            gen_two(60), gen_glued(50), gen_letters(50), gen_spaced(60), gen_words(80), gen_regions(60),
            gen_negative(234),
            gen_negative_plain(228), gen_kw_positive(156), gen_negative_kw(48)]
    rows = [r for g in gens for r in g]
    try:
        import phonenumbers
        for r in rows:
            for w in r["want"]:
                n = phonenumbers.parse(w, None)
                assert phonenumbers.is_valid_number(n), (w, r)
    except ImportError:
        pass
    for i, r in enumerate(rows):
        r["id"] = i
        print(json.dumps(r, ensure_ascii=False))


if __name__ == "__main__":
    main()
