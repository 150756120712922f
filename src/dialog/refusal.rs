//! Whether a client's message refuses to give the phone. Understood from the words near the
//! request, not from a list of whole phrases: a negation next to a verb of giving or calling
//! in either order and with words between ("номер я вам не оставлю", "давать не буду"), a
//! bare "нет" right after the bot asked for the number, "не пишите мне", rude replies. The
//! script's phrases are matched on top (`refusal.phrases`).

use crate::keywords::{KeywordSet, Words};

/// Words that negate what is near them.
fn is_negation(w: &str) -> bool {
    matches!(
        w,
        "не" | "нет"
            | "ни"
            | "неа"
            | "нее"
            | "нету"
            | "никак"
            | "никогда"
            | "ничего"
            | "незачем"
            | "никаких"
            | "никакого"
            | "никакой"
    )
}

/// Giving the number: "дам", "оставлю", "скажу", "продиктую", "скину" and their forms.
/// Prefixes, each long enough not to start an unrelated word ("оставл" but not "остав",
/// which would also take "оставшийся").
fn is_give(w: &str) -> bool {
    const EXACT: &[&str] = &[
        "дам",
        "дать",
        "даю",
        "дадим",
        "скажу",
        "сказать",
        "назову",
        "скину",
        "пришлю",
    ];
    const PREFIX: &[&str] = &[
        "давать",
        "оставл",
        "остави",
        "оставлю",
        "сообщ",
        "продикт",
        "диктов",
        "присыл",
        "прислать",
        "отправл",
        "отправить",
        "скидыв",
        "называть",
        "светить",
        "делиться",
        "поделюсь",
        "раскрыв",
    ];
    EXACT.contains(&w) || PREFIX.iter().any(|p| w.starts_with(p))
}

/// Contacting the client: "не звоните", "не пишите мне", "не беспокойте". Imperatives and
/// infinitives only: "мне не звонили" is a complaint, not a refusal.
fn is_contact_verb(w: &str) -> bool {
    matches!(
        w,
        "звоните"
            | "звонить"
            | "звони"
            | "позвоните"
            | "названивайте"
            | "названивать"
            | "пишите"
            | "писать"
            | "пиши"
            | "беспокойте"
            | "беспокоить"
            | "тревожьте"
            | "надоедайте"
            | "присылайте"
            | "звонков"
            | "звонки"
    )
}

/// Wanting or intending: refuses only with the number mentioned or in a short reply
/// ("не хочу", "не надо"), since "не хочу переплачивать" is about something else.
fn is_modal(w: &str) -> bool {
    matches!(
        w,
        "хочу"
            | "хочется"
            | "буду"
            | "будем"
            | "собираюсь"
            | "стану"
            | "намерен"
            | "обязан"
            | "обязана"
            | "нужно"
            | "надо"
            | "желаю"
            | "готов"
            | "готова"
    )
}

/// An infinitive ("переплачивать", "ждать", "идти"): the verb a modal governs.
fn is_infinitive(w: &str) -> bool {
    w.chars().count() > 3 && (w.ends_with("ть") || w.ends_with("ти") || w.ends_with("чь") || w.ends_with("ться"))
}

/// "не могу оставить заявку" is a client who tries: a negated ability refuses only with the
/// number mentioned ("не могу дать номер").
fn is_ability(w: &str) -> bool {
    w.starts_with("мог") || w.starts_with("може") || w.starts_with("получа") || w.starts_with("удает")
}

fn is_number_word(w: &str) -> bool {
    ["номер", "телефон", "тел", "контакт", "цифр", "мобильн", "сотов"]
        .iter()
        .any(|p| w.starts_with(p))
}

/// Replies that refuse by themselves (rudely or not): "отстаньте", "отвали", "передумал".
fn is_refusal_word(w: &str) -> bool {
    const PREFIX: &[&str] = &[
        "отстан",
        "отвал",
        "отъеб",
        "отвяж",
        "отцеп",
        "задолбал",
        "заколебал",
        "задрал",
        "заебал",
        "достали",
        "надоел",
        "отказыва",
        "откажусь",
        "передумал",
        "неинтересно",
        "спамер",
        "обойдетесь",
        "обойдешься",
    ];
    PREFIX.iter().any(|p| w.starts_with(p))
        || matches!(w, "нафиг" | "нахер" | "нахрен" | "нахуй" | "фиг" | "хрен" | "шиш")
}

/// Words that may surround a bare "нет" without changing it.
fn is_politeness(w: &str) -> bool {
    matches!(
        w,
        "спасибо"
            | "пожалуйста"
            | "извините"
            | "простите"
            | "пока"
            | "уж"
            | "уже"
            | "так"
            | "ну"
            | "а"
            | "вот"
            | "нужно"
            | "надо"
            | "хочу"
            | "буду"
            | "не"
            | "нет"
            | "неа"
            | "нее"
            | "no"
            | "nope"
            | "обойдусь"
            | "обойдемся"
            | "спс"
            | "благодарю"
            | "мне"
            | "это"
            | "вам"
            | "я"
            | "же"
            | "сказал"
            | "сказала"
            | "говорю"
    )
}

fn tokens(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace('ё', "е")
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// How far (in words) a negation reaches.
const REACH: usize = 3;

/// Refusal rules plus the script's phrases.
#[derive(Debug, Clone)]
pub(super) struct RefusalRules {
    phrases: KeywordSet,
}

impl RefusalRules {
    pub fn new(phrases: &[String]) -> RefusalRules {
        RefusalRules {
            phrases: KeywordSet::new(phrases),
        }
    }

    /// `after_request`: the bot's last message asked for the number, so a bare "нет" answers it.
    pub fn refuses(&self, text: &str, after_request: bool) -> bool {
        if self.phrases.matches(&Words::of(text)) {
            return true;
        }
        let w = tokens(text);
        if w.is_empty() {
            return false;
        }
        if w.iter().any(|x| is_refusal_word(x)) || rude_send_off(&w) {
            return true;
        }
        let has_number = w.iter().any(|x| is_number_word(x));
        // "нет", "нет, спасибо", "не надо", "сказал же нет": a sentence of refusing words
        // only, even when another sentence asks something ("Нет. А где вы находитесь?").
        let bare = text.split(['.', '!', '?', '\n', ';']).any(|sentence| {
            let s = tokens(sentence);
            !s.is_empty() && s.len() <= 4 && s.iter().any(|x| is_negation(x)) && s.iter().all(|x| is_politeness(x))
        });
        if bare && after_request {
            return true;
        }
        // "никаких телефонов", "номер вам ни к чему", "незачем вам мой телефон".
        let none_of = |x: &str| matches!(x, "никаких" | "никакого" | "никакой" | "незачем");
        if has_number
            && (w.windows(2).any(|p| none_of(&p[0]) && is_number_word(&p[1]))
                || w.windows(3).any(|p| p[0] == "ни" && p[1] == "к" && p[2] == "чему")
                || w.iter().any(|x| x == "незачем"))
        {
            return true;
        }
        // "мне это не интересно", "не интересует"; "удалите мою заявку".
        if w.windows(2)
            .any(|p| is_negation(&p[0]) && (p[1].starts_with("интересн") || p[1] == "интересует"))
            || w.windows(3).any(|p| {
                p[0].starts_with("удалит")
                    && p[1..]
                        .iter()
                        .any(|x| is_number_word(x) || x.starts_with("заявк") || x.starts_with("данны"))
            })
        {
            return true;
        }
        // "без номера", "давайте без звонков".
        if w.windows(2)
            .any(|p| p[0] == "без" && (is_number_word(&p[1]) || p[1].starts_with("звонк")))
        {
            return true;
        }
        // "хватит мне писать", "перестаньте звонить", "прекратите названивать".
        let stop = |x: &str| x.starts_with("хватит") || x.starts_with("перестан") || x.starts_with("прекрат");
        for (i, x) in w.iter().enumerate() {
            if stop(x) && w[i + 1..].iter().take(REACH).any(|y| is_contact_verb(y)) {
                return true;
            }
        }
        for (i, x) in w.iter().enumerate() {
            if !is_negation(x) {
                continue;
            }
            let lo = i.saturating_sub(REACH);
            let hi = (i + 1 + REACH).min(w.len());
            let near = || {
                w[lo..hi]
                    .iter()
                    .enumerate()
                    .filter(move |(k, _)| lo + k != i)
                    .map(|(_, y)| y.as_str())
            };
            let ability = w.get(i + 1).is_some_and(|y| is_ability(y));
            if near().any(is_give) && (!ability || has_number) {
                return true;
            }
            // Negated contact verbs refuse only after the negation ("не звоните"), since
            // "звоните, не отвечу" does not stop calls… and does not refuse the number either.
            if w[i + 1..hi].iter().any(|y| is_contact_verb(y)) {
                return true;
            }
            // "не надо мне ничего", "мне ничего не нужно": wanting nothing. "не хочу
            // переплачивать" wants something else: the modal governs another verb.
            let modal_alone = w[lo..hi].iter().enumerate().any(|(k, y)| {
                is_modal(y)
                    && w.get(lo + k + 1)
                        .is_none_or(|next| !is_infinitive(next) || is_give(next))
            });
            if near().any(is_modal) && (has_number || (w.len() <= 6 && modal_alone)) {
                return true;
            }
        }
        false
    }
}

/// "пошли вы", "иди ты", "идите к чёрту": a send-off, not an invitation to walk.
fn rude_send_off(w: &[String]) -> bool {
    // "к черту ваш номер", "в жопу ваши звонки".
    let to_hell = w
        .windows(2)
        .any(|p| (p[0] == "к" && p[1] == "черту") || (p[0] == "в" && matches!(p[1].as_str(), "жопу" | "топку")));
    to_hell
        || w.windows(2).any(|p| {
            matches!(
                p[0].as_str(),
                "пошел" | "пошла" | "пошли" | "иди" | "идите" | "катись" | "катитесь"
            ) && matches!(p[1].as_str(), "вы" | "ты" | "вон" | "на" | "к" | "нафиг" | "лесом")
        })
}
