"""The second hand-written families set (tests/data/phones-blind.jsonl).

Written in one go before any of it was run through the extractor, in other
phrasings than tools/gen_families.py, so its first run said something about
generalisation (see the README); each line is read the way the dialog reads
it (ClientReader with the line's `exclude` and `previous`).

    python3 crates/phone/tools/gen_blind.py > crates/phone/tests/data/phones-blind.jsonl
"""
import json


def styled(s, zero):
    return "".join(chr(ord(c) - 48 + zero) if c.isdigit() else c for c in s)


def fw(s):
    m = {"(": "（", ")": "）", "+": "＋", "-": "－", ":": "："}
    return "".join(chr(ord(c) - 48 + 0xFF10) if c.isdigit() else m.get(c, c) for c in s)


def sup(s):
    return "".join("⁰¹²³⁴⁵⁶⁷⁸⁹"[int(c)] if c.isdigit() else c for c in s)


def sub(s):
    return "".join("₀₁₂₃₄₅₆₇₈₉"[int(c)] if c.isdigit() else c for c in s)


L = []


def add(cat, text, want, exclude=None, previous=None):
    d = {"cat": cat, "text": text, "want": want}
    if exclude:
        d["exclude"] = exclude
    if previous:
        d["previous"] = previous
    L.append(d)


# digits of other scripts
add("nonascii", "Мой телефон: " + fw("+7(960)448-21-07"), ["+79604482107"])
add("nonascii", "Звоните на " + styled("89031234556", 0x1D7EC), ["+79031234556"])
add("nonascii", styled("8 910 445 22 11", 0x1D7D8), ["+79104452211"])
add("nonascii", styled("8 925", 0x0660) + " 301 " + styled("44 55", 0x0660), ["+79253014455"])
add("nonascii", "شمارهٔ من " + styled("89156073321", 0x06F0) + " است", ["+79156073321"])
add("nonascii", sup("8 (916) 200-15-44"), ["+79162001544"])
add("nonascii", "вот " + sub("89261112345"), ["+79261112345"])
add("nonascii", fw("8") + "\u3000" + fw("917") + "\u3000" + fw("555") + "\u3000" + fw("01") + "\u3000" + fw("23"), ["+79175550123"])
add("nonascii", "номер " + styled("8 (988) 540-12-76", 0x1D7E2) + " Марина", ["+79885401276"])
add("nonascii_neg", "сеанс в " + fw("19:00") + ", зал " + fw("2"), [])
add("nonascii_neg", styled("50", 0x1D7CE) + "% скидка на " + styled("2", 0x1D7CE) + " товар", [])
add("nonascii_neg", "رقم الطلب " + styled("123456", 0x0660), [])
add("nonascii_neg", "формула H₂O и x² + y² = 25", [])
# letters and signs typed for digits
add("lookalike", "8 91б 223 44 55", ["+79162234455"])
add("lookalike", "+7 9I7 l00 2З 45", ["+79171002345"])
add("lookalike", "89O5|234567", ["+79051234567"])
add("lookalike", "мой 8-9З9-4l0-l2-l2", ["+79394101212"])
add("lookalike", "8 (9Б0) 7ОО-З3-44", ["+79607003344"])
add("lookalike", "пишите в вотсап 89l6 ЗЗЗ 2l 2l", ["+79163332121"])
add("lookalike_neg", "дом 7Б, кв 3", [])
add("lookalike_neg", "модель XL 40, размер l", [])
add("lookalike_neg", "квартира 14З, этаж 5", [])
add("lookalike_neg", "ЗИЛ 130 и БелАЗ 7540", [])
# voice input: commas, slashes, number words, fillers
add("dictation", "восемь девятьсот шестнадцать, сто двадцать, тридцать, сорок", ["+79161203040"])
add("dictation", "8 9 1 6, 1 2 0, 3 0, 4 0", ["+79161203040"])
add("dictation", "восемь 926 пятьсот пятьдесят пять 12 34", ["+79265551234"])
add("dictation", "89, 26, 555, 12, 34", ["+79265551234"])
add("dictation", "8 926 ммм щас 555 секунду 12 34", ["+79265551234"])
add("dictation", "значит так: 8 903, секундочку, 111 22 33", ["+79031112233"])
add("dictation", "8-903 / 111 / 22 / 33", ["+79031112233"])
add("dictation", "плюс семь, девятьсот три, сто одиннадцать, двадцать два, тридцать три", ["+79031112233"])
add("dictation", "восемь девятьсот три один один один два два три три", ["+79031112233"])
add("dictation", "89 03 111 2233", ["+79031112233"])
add("dictation", "записывай: восемь, девять, один, семь... двести два, ноль пять, семьдесят", ["+79172020570"])
add("dictation_neg", "возьму 2, 3 или 5 штук по 120", [])
add("dictation_neg", "комнаты 12, 14, 18 метров, итого 44", [])
add("dictation_neg", "сетка 30/40/50 мм, 200 штук", [])
add("dictation_neg", "ммм, 15 минут и буду, секунду", [])
add("dictation_neg", "двести, триста, может пятьсот тысяч", [])
# ten-digit IDs
add("ids", "запрос 9161112233 закрыли без ответа", [])
add("ids", "кейс 9161112233, что по нему?", [])
add("ids", "бронь 9161112233 на субботу", [])
add("ids", "жалоба 9161112233 рассмотрена?", [])
add("ids", "идентификатор 9161112233", [])
add("ids", "9161112233 — номер вашей заявки?", [])
add("ids", "SR-9161112233 до сих пор открыт", [])
add("ids", "регистрационный номер 9161112233", [])
add("ids_pos", "запрос отправила, жду звонка на 89161112233", ["+79161112233"])
add("ids_pos", "жалобу писать не буду, просто перезвоните: 8 916 111 22 33", ["+79161112233"])
add("ids_pos", "бронь на субботу, мой 8 (916) 111-22-33", ["+79161112233"])
# whose number it is
add("whose", "ваш менеджер дал 8 800 100 20 30, а я на 8 916 555 44 33", ["+79165554433"])
add("whose", "на сайте указан 8 (863) 333-22-11, звонил — занято. мой +7 928 111 00 99", ["+79281110099"], ["+78633332211"])
add("whose", "на сайте указан 8 (863) 333-22-11, звонил — занято", [])
add("whose", "это не ваш номер 8 863 333 22 11? я вам писала с 8 928 111 00 99", ["+79281110099"])
add("whose", "вы писали «например: +7 900 123-45-67», у меня 8 917 222 33 44", ["+79172223344"])
add("whose", "мой номер 8 917 222 33 44, номер вашего офиса 8 863 201 11 22", ["+79172223344"])
add("whose", "жены 8 917 222 33 44, мой 8 926 333 44 55", ["+79263334455", "+79172223344"])
add("whose", "8-800-555-35-35 это горячая линия, а мне звоните на 8 903 444 55 66", ["+79034445566"])
add("whose", "звоните на 8 800 200 11 22", [])
add("whose", "+7 (900) 000-00-00", [])
add("whose", "ваш номер 8 928 700 10 20 не отвечает", [])
# city numbers
add("local", "я в Новосибирске, домашний 222-33-44", ["+73832223344"])
add("local", "Екатеринбург, тел 345-67-89", ["+73433456789"])
add("local", "Алматы, 250 12 34", ["+77272501234"])
add("local", "наберите 55-12-34 (8442)", ["+78442551234"])
add("local", "тел 41-22-33", ["+74212412233"], previous=["код города 4212"])
add("local", "звоните 990-11-22", ["+78469901122"], previous=["мы из Самары"])
add("local", "из Караганды я, 41 22 05", ["+77212412205"])
add("local", "Астана, 57-12-34", ["+77172571234"])
add("local_neg", "купил в Казани за 12 500", [])
add("local_neg", "Омск, дом 15, кв 120", [])
add("local_neg", "в Самаре 300 тысяч человек", [])
# national formats of a named CIS country
add("cis", "я из Минска, 8 029 612 34 56", ["+375296123456"])
add("cis", "Гомель, 8 (0232) 12-34-56", ["+375232123456"])
add("cis", "Киев 067 123 45 67", ["+380671234567"])
add("cis", "Бишкек, 0555 12 34 56", ["+996555123456"])
# no keyword at all
add("negative_nokw", "перевела 12 500, остаток 3 400", [])
add("negative_nokw", "версия 11.2.3, сборка 20261201", [])
add("negative_nokw", "рост 175, вес 80, размер 50-52", [])
add("negative_nokw", "с 9 до 18, обед 13-14", [])
add("negative_nokw", "100 500 раз писала", [])
add("negative_nokw", "1234567890", [])
add("negative_nokw", "счёт матча 3:1, 2:2", [])
# phones next to unrelated keywords
add("kw_positive", "цена 45 000 устроит, звоните 8 916 770 11 22", ["+79167701122"])
add("kw_positive", "доставка 12.12 к 15:00, телефон 89167701122", ["+79167701122"])
add("kw_positive", "ИНН у меня нет, а телефон 8 916 770 11 22", ["+79167701122"])
add("kw_positive", "заказ оплачу при получении. 8 916 770 11 22", ["+79167701122"])
add("kw_positive", "артикул не помню, 8 (916) 770-11-22", ["+79167701122"])

for i, d in enumerate(L):
    d["id"] = i
    print(json.dumps(d, ensure_ascii=False))
