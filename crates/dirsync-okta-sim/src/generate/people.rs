//! Who the users are: names, logins, jobs, places and the manager chain,
//! turned into Okta profiles with the gaps real directories have (missing
//! attributes, explicit nulls, custom attributes of every JSON type).

use std::collections::{HashMap, HashSet};

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::OrgStyle;
use super::names::{self, CULTURES, City, Culture, DEPARTMENTS, Name};

/// A person before they become a profile.
pub(crate) struct Person {
    culture: &'static Culture,
    first: Name,
    last: Name,
    pub(crate) login: String,
    email: String,
    department: usize,
    title: &'static str,
    city: &'static City,
    employee_number: String,
    user_type: &'static str,
    pub(crate) manager: Option<usize>,
}

fn pick_culture(rng: &mut ChaCha8Rng) -> &'static Culture {
    let total: u32 = CULTURES.iter().map(|c| c.weight).sum();
    let mut roll = rng.random_range(0..total);
    for culture in CULTURES {
        if roll < culture.weight {
            return culture;
        }
        roll -= culture.weight;
    }
    &CULTURES[0]
}

/// `first.last@domain`, made unique the way admins do (`first.last2@…`).
/// `next` remembers, per `first.last`, the suffix to try next, so a common
/// name costs one attempt, not one per namesake (the loop made generating a
/// 1,000,000-user org take 16 minutes); `taken` still guards the rare base
/// that ends in a digit.
fn unique_login(
    first: &str,
    last: &str,
    domain: &str,
    taken: &mut HashSet<String>,
    next: &mut HashMap<String, u32>,
) -> String {
    let base = format!("{first}.{last}");
    let n = next.entry(base.clone()).or_insert(1);
    loop {
        let candidate = if *n == 1 {
            format!("{base}@{domain}")
        } else {
            format!("{base}{n}@{domain}")
        };
        *n += 1;
        if taken.insert(candidate.clone()) {
            return candidate;
        }
    }
}

pub(crate) fn generate_people(rng: &mut ChaCha8Rng, style: &OrgStyle, n: usize) -> Vec<Person> {
    let mut taken = HashSet::with_capacity(n);
    let mut next = HashMap::new();
    let leaders = (n / 40).max(1);
    (0..n)
        .map(|i| {
            let culture = pick_culture(rng);
            let first = *culture.first.choose(rng).unwrap_or(&("Alex", "alex"));
            let last = *culture.last.choose(rng).unwrap_or(&("Doe", "doe"));
            let login = unique_login(first.1, last.1, style.email_domain, &mut taken, &mut next);
            // A few people keep a mail address on another domain than
            // their login (acquisitions, aliases).
            let email = if rng.random_bool(0.08) {
                login.replace(style.email_domain, "mail.example.net")
            } else {
                login.clone()
            };
            let department = rng.random_range(0..DEPARTMENTS.len());
            let titles = DEPARTMENTS[department].1;
            let seniority = if i < leaders {
                titles.len() - 1
            } else {
                rng.random_range(0..titles.len())
            };
            let manager = pick_manager(rng, i, leaders);
            Person {
                culture,
                first,
                last,
                login,
                email,
                department,
                title: titles[seniority],
                city: culture.cities.choose(rng).unwrap_or(&culture.cities[0]),
                employee_number: format!("{:06}", 100_000 + i),
                user_type: names::USER_TYPES.choose(rng).copied().unwrap_or("Employee"),
                manager,
            }
        })
        .collect()
}

/// Managers come earlier in generation order, so the reporting lines form a
/// tree rooted at the first person; a few people have none on record.
fn pick_manager(rng: &mut ChaCha8Rng, i: usize, leaders: usize) -> Option<usize> {
    if i == 0 || rng.random_bool(0.04) {
        return None;
    }
    let pool = if i < leaders { 1 } else { (i / 3).clamp(1, i) };
    Some(rng.random_range(0..pool.min(i)))
}

fn digits(rng: &mut ChaCha8Rng, pattern: &str) -> String {
    pattern
        .chars()
        .map(|c| match c {
            '#' => char::from(b'0' + rng.random_range(0..10u8)),
            other => other,
        })
        .collect()
}

pub(crate) fn display_name(p: &Person) -> String {
    if p.culture.family_first {
        format!("{} {}", p.last.0, p.first.0)
    } else {
        format!("{} {}", p.first.0, p.last.0)
    }
}

/// What `manager` and `managerId` point at for one person.
pub(crate) struct ManagerRef {
    pub(crate) id_or_login: String,
    pub(crate) display_name: String,
}

/// The Okta profile for one person.
pub(crate) fn profile(
    rng: &mut ChaCha8Rng,
    style: &OrgStyle,
    p: &Person,
    manager: Option<ManagerRef>,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("firstName".into(), json!(p.first.0));
    m.insert("lastName".into(), json!(p.last.0));
    // Okta always returns these two, as null when unset (see the recordings).
    let mobile = rng.random_bool(0.75).then(|| digits(rng, p.culture.mobile));
    m.insert("mobilePhone".into(), json!(mobile));
    let second = rng
        .random_bool(0.2)
        .then(|| format!("{}.{}@example.org", p.first.1, p.last.1));
    m.insert("secondEmail".into(), json!(second));
    m.insert("login".into(), json!(p.login));
    m.insert("email".into(), json!(p.email));
    work_attributes(rng, style, p, &mut m);
    place_attributes(rng, p, &mut m);
    personal_attributes(rng, p, &mut m);
    if let Some(manager) = manager {
        m.insert("managerId".into(), json!(manager.id_or_login));
        m.insert("manager".into(), json!(manager.display_name));
    }
    custom_attributes(rng, p, &mut m);
    sprinkle_nulls(rng, &mut m);
    m
}

/// Inserts `value` with probability `p`.
fn maybe(rng: &mut ChaCha8Rng, m: &mut Map<String, Value>, p: f64, key: &str, value: Value) {
    if rng.random_bool(p) {
        m.insert(key.into(), value);
    }
}

fn work_attributes(rng: &mut ChaCha8Rng, style: &OrgStyle, p: &Person, m: &mut Map<String, Value>) {
    maybe(rng, m, 0.9, "displayName", json!(display_name(p)));
    maybe(rng, m, 0.92, "title", json!(p.title));
    maybe(rng, m, 0.95, "department", json!(DEPARTMENTS[p.department].0));
    maybe(rng, m, 0.85, "organization", json!(style.company));
    let division = names::DIVISIONS[p.department % names::DIVISIONS.len()];
    maybe(rng, m, 0.6, "division", json!(division));
    let cost_center = format!("CC-{}", 1000 + 10 * p.department);
    maybe(rng, m, 0.7, "costCenter", json!(cost_center));
    maybe(rng, m, 0.9, "employeeNumber", json!(p.employee_number));
    maybe(rng, m, 0.8, "userType", json!(p.user_type));
    let desk = format!("{}{}", p.city.phone_prefix, digits(rng, "####"));
    maybe(rng, m, 0.6, "primaryPhone", json!(desk));
}

fn place_attributes(rng: &mut ChaCha8Rng, p: &Person, m: &mut Map<String, Value>) {
    if rng.random_bool(0.85) {
        let number = rng.random_range(1..400).to_string();
        m.insert("streetAddress".into(), json!(p.city.street.replace("{n}", &number)));
        m.insert("city".into(), json!(p.city.name));
        if let Some(state) = p.city.state {
            m.insert("state".into(), json!(state));
        }
        m.insert("zipCode".into(), json!(digits(rng, p.city.zip)));
        m.insert("countryCode".into(), json!(p.city.country.unwrap_or(p.culture.country)));
    }
    maybe(rng, m, 0.5, "preferredLanguage", json!(p.culture.language));
    maybe(rng, m, 0.6, "locale", json!(p.culture.locale));
    maybe(rng, m, 0.6, "timezone", json!(p.culture.timezone));
}

fn personal_attributes(rng: &mut ChaCha8Rng, p: &Person, m: &mut Map<String, Value>) {
    if rng.random_bool(0.08) {
        let prefix = names::HONORIFIC_PREFIXES.choose(rng).copied();
        m.insert("honorificPrefix".into(), json!(prefix));
    }
    if rng.random_bool(0.03) {
        let suffix = names::HONORIFIC_SUFFIXES.choose(rng).copied();
        m.insert("honorificSuffix".into(), json!(suffix));
    }
    if rng.random_bool(0.1) {
        m.insert("nickName".into(), json!(names::NICKNAMES.choose(rng).copied()));
    }
    if rng.random_bool(0.05) {
        let middle = p.culture.first.choose(rng).map(|n| n.0);
        m.insert("middleName".into(), json!(middle));
    }
    let url = format!("https://intranet.example.com/people/{}", p.employee_number);
    maybe(rng, m, 0.15, "profileUrl", json!(url));
}

/// Custom attributes as a customer's schema extension defines them; unset
/// ones are absent, as Okta returns them.
fn custom_attributes(rng: &mut ChaCha8Rng, p: &Person, m: &mut Map<String, Value>) {
    if rng.random_bool(0.4) {
        m.insert("pronouns".into(), json!(names::PRONOUNS.choose(rng).copied()));
    }
    let start_year = rng.random_range(2008..2026);
    maybe(rng, m, 0.8, "startYear", json!(start_year));
    let floor = rng.random_range(-1..40);
    maybe(rng, m, 0.5, "officeFloor", json!(floor));
    let fte = [0.5, 0.6, 0.8, 1.0][rng.random_range(0..4)];
    maybe(rng, m, 0.3, "ftePercent", json!(fte));
    if rng.random_bool(0.5) {
        let count = rng.random_range(0..4);
        let skills: Vec<&str> = names::SKILLS.choose_multiple(rng, count).copied().collect();
        m.insert("skills".into(), json!(skills));
    }
    maybe(rng, m, 0.9, "isContractor", json!(p.user_type == "Contractor"));
}

/// Attributes cleared through the API come back as JSON null rather than
/// disappearing; a client must treat both the same.
fn sprinkle_nulls(rng: &mut ChaCha8Rng, m: &mut Map<String, Value>) {
    const NULLABLE: &[&str] = &[
        "title",
        "displayName",
        "primaryPhone",
        "city",
        "department",
        "costCenter",
        "nickName",
    ];
    for key in NULLABLE {
        if !m.contains_key(*key) && rng.random_bool(0.05) {
            m.insert((*key).into(), Value::Null);
        }
    }
}
