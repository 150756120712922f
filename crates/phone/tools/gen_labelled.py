#!/usr/bin/env python3
"""Generate tests/data/phones-labelled.jsonl: messages the way leads write
them, labelled by construction (the expected E.164 comes from the digits we
wrote, never from the extractor under test). Every label is also checked
valid with libphonenumber when the `phonenumbers` package is installed.

    python3 tools/gen_labelled.py > tests/data/phones-labelled.jsonl
"""
import json
import random

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


def main():
    gens = [gen_plain(60), gen_in_text(60), gen_landline(60), gen_tollfree(50), gen_foreign(60),
            gen_two(60), gen_glued(50), gen_letters(50), gen_spaced(60), gen_words(80), gen_regions(60),
            gen_negative(234)]
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
