//! House numbers, parsed once for the geocoder, the street lists and `explain --address`.
//!
//! Forms read (case and spaces do not matter): a number (`20`), a number with a suffix
//! (`20a`, `20 A`, `4bis`, `11/1`), a staircase and flat (`11 B 5`: house 11, staircase B, flat
//! 5; the flat is kept apart and never part of the building; `4bis C 12`: house 4bis, staircase
//! C, flat 12), a range (`8-10`, `8–10`, `8 - 10`)
//! and a list (`19;21`, `19, 21`; its items may be ranges). A range stands for the numbers of
//! its ends' side of the street (`8-10`: 8 and 10; `7-9`: 7 and 9) unless its ends differ in
//! parity (`8-11`: 8 to 11) or every number is asked for (OSM `addr:interpolation=all`).

use std::fmt;

/// The longest range read as a range (ends further apart are not a house-number range).
pub const MAX_RANGE: u32 = 200;

/// One house: its number, its suffix letter(s) and, for a staircase address, the flat.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HouseNumber {
    /// The number (`20` of `20a`).
    pub number: u32,
    /// The suffix, lower case, without spaces (`a` of `20 A`, `bis` of `4bis`, `/1` of `11/1`),
    /// or the staircase letter of `11 B 5`; empty for none.
    pub suffix: String,
    /// The flat of a staircase address (`5` of `11 B 5`): not part of the building.
    pub flat: Option<String>,
}

impl HouseNumber {
    /// The building's key: number and suffix (`20a`), the flat left out.
    pub fn key(&self) -> String {
        format!("{}{}", self.number, self.suffix)
    }

    /// The number alone (`20` of `20a`), for a suffix the index does not know.
    pub fn base(&self) -> String {
        self.number.to_string()
    }
}

impl fmt::Display for HouseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.key())?;
        if let Some(flat) = &self.flat {
            write!(f, " {flat}")?;
        }
        Ok(())
    }
}

/// One item of a house-number value: a house or a range of numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// One house (`20a`).
    One(HouseNumber),
    /// The numbers `from..=to` (`from < to`).
    Range {
        /// The first number.
        from: u32,
        /// The last number.
        to: u32,
    },
}

/// A parsed house-number value: one or more items (`19;21`, `8-10`, `11 B 5`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseNumbers {
    /// The items in the order written.
    pub items: Vec<Item>,
}

/// A number covered by a value, and whether it was written out (not implied by a range).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Covered {
    /// The number and suffix.
    pub house: HouseNumber,
    /// `true` for a house written out as one (`14`, each of `19;21`); `false` for a number of a
    /// range, its ends included (`14` of `14-20`): a house written out wins over a range.
    pub exact: bool,
}

impl HouseNumbers {
    /// The first house of the value: a pupil's `7-9` lives at 7.
    pub fn first(&self) -> HouseNumber {
        match &self.items[0] {
            Item::One(h) => h.clone(),
            Item::Range { from, .. } => plain(*from),
        }
    }

    /// Whether the value is one house (no range, no list).
    pub fn is_single(&self) -> bool {
        matches!(self.items[..], [Item::One(_)])
    }

    /// Every number the value stands for, in order; a range covers its ends' side of the
    /// street (step 2) unless `all` or its ends differ in parity.
    pub fn covered(&self, all: bool) -> Vec<Covered> {
        let mut out = Vec::new();
        for item in &self.items {
            match item {
                Item::One(h) => out
                    .push(Covered { house: HouseNumber { flat: None, ..h.clone() }, exact: true }),
                Item::Range { from, to } => {
                    let step = if all || (from % 2) != (to % 2) { 1 } else { 2 };
                    for n in (*from..=*to).step_by(step) {
                        out.push(Covered { house: plain(n), exact: false });
                    }
                }
            }
        }
        out
    }

    /// The smallest and largest numbers of the value.
    pub fn span(&self) -> (u32, u32) {
        let c = self.covered(false);
        let lo = c.iter().map(|c| c.house.number).min().unwrap_or(0);
        let hi = c.iter().map(|c| c.house.number).max().unwrap_or(0);
        (lo, hi)
    }
}

impl fmt::Display for HouseNumbers {
    /// Normalised: `20a`, `11b 5`, `8–10`, `19, 21`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            match item {
                Item::One(h) => write!(f, "{h}")?,
                Item::Range { from, to } => write!(f, "{from}–{to}")?,
            }
        }
        Ok(())
    }
}

fn plain(n: u32) -> HouseNumber {
    HouseNumber { number: n, suffix: String::new(), flat: None }
}

/// Parse a house-number value; `None` when it is not one (`ohne Nummer`, empty, `a12`).
pub fn parse(raw: &str) -> Option<HouseNumbers> {
    let lower = raw.trim().to_lowercase();
    let mut items = Vec::new();
    for part in lower.split([';', ',']) {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        items.push(parse_item(part)?);
    }
    (!items.is_empty()).then_some(HouseNumbers { items })
}

fn parse_item(s: &str) -> Option<Item> {
    // A range: two plain numbers around a hyphen or dash.
    if let Some((a, b)) = s.split_once(['-', '–', '—']) {
        let (a, b) = (a.trim(), b.trim());
        let (Ok(from), Ok(to)) = (a.parse::<u32>(), b.parse::<u32>()) else { return None };
        return match from.cmp(&to) {
            std::cmp::Ordering::Equal => Some(Item::One(plain(from))),
            std::cmp::Ordering::Less if to - from <= MAX_RANGE => Some(Item::Range { from, to }),
            _ => None,
        };
    }
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let number: u32 = digits.parse().ok()?;
    let rest = s[digits.len()..].trim_start();
    let words: Vec<&str> = rest.split_whitespace().collect();
    let suffix_ok =
        |w: &str| w.chars().all(|c| c.is_alphabetic()) || w.strip_prefix('/').is_some_and(is_num);
    let (suffix, flat) = match words[..] {
        [] => (String::new(), None),
        // `20a`, `20 A`, `4bis`, `11/1`
        [w] if suffix_ok(w) => (w.to_string(), None),
        // `11 B 5`: staircase B, flat 5 (and `11 B 5a`).
        [w, f]
            if w.chars().all(char::is_alphabetic)
                && f.starts_with(|c: char| c.is_ascii_digit()) =>
        {
            (w.to_string(), Some(f.to_string()))
        }
        // `4bis C 12`: house 4bis, staircase C, flat 12 (staircase and flat kept as the flat).
        [w, st, f]
            if suffix_ok(w)
                && st.chars().all(char::is_alphabetic)
                && f.starts_with(|c: char| c.is_ascii_digit()) =>
        {
            (w.to_string(), Some(format!("{st} {f}")))
        }
        _ => return None,
    };
    Some(Item::One(HouseNumber { number, suffix, flat }))
}

fn is_num(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

/// Split a written address into street and house number: the number is the shortest tail of
/// words that parses as one (`Straße des 17. Juni 3` -> `Straße des 17. Juni`, `3`;
/// `Mannerheimintie 11 B 5` -> `Mannerheimintie`, `11 B 5`); without one, the whole text is
/// the street.
pub fn split_address(a: &str) -> (String, Option<HouseNumbers>) {
    let words: Vec<&str> = a.split_whitespace().collect();
    for i in 1..words.len() {
        if !words[i].starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        if let Some(n) = parse(&words[i..].join(" ")) {
            let street = words[..i].join(" ").trim_end_matches(',').to_string();
            return (street, Some(n));
        }
    }
    (words.join(" "), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(n: u32, s: &str, flat: Option<&str>) -> HouseNumber {
        HouseNumber { number: n, suffix: s.into(), flat: flat.map(Into::into) }
    }

    #[test]
    fn forms_are_read_and_normalised() {
        for (raw, shown) in [
            ("20", "20"),
            ("20 A", "20a"),
            ("20a", "20a"),
            (" 4bis ", "4bis"),
            ("11/1", "11/1"),
            ("11 B 5", "11b 5"),
            ("4bis C 12", "4bis c 12"),
            ("8-10", "8–10"),
            ("8 – 10", "8–10"),
            ("19;21", "19, 21"),
            ("19, 21-25", "19, 21–25"),
            ("14-14", "14"),
        ] {
            assert_eq!(parse(raw).map(|n| n.to_string()).as_deref(), Some(shown), "{raw}");
        }
        for bad in ["", "ohne Nummer", "a12", "10-8", "1-999", "12 a b c", "12 a b 4 5"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        assert_eq!(parse("11 B 5").unwrap().first(), one(11, "b", Some("5")));
        assert_eq!(parse("11 B 5").unwrap().first().key(), "11b");
        assert_eq!(parse("7-9").unwrap().first(), one(7, "", None));
    }

    #[test]
    fn ranges_cover_their_side_of_the_street() {
        let nums = |raw: &str, all: bool| -> Vec<(u32, bool)> {
            parse(raw).unwrap().covered(all).iter().map(|c| (c.house.number, c.exact)).collect()
        };
        // The case: OSM "8-10" is 8 and 10, not 9.
        assert_eq!(nums("8-10", false), vec![(8, false), (10, false)]);
        assert_eq!(nums("7-11", false), vec![(7, false), (9, false), (11, false)]);
        assert_eq!(nums("8-10", true), vec![(8, false), (9, false), (10, false)]);
        assert_eq!(nums("8-11", false).len(), 4, "ends of both parities: every number");
        assert_eq!(nums("19;21", false), vec![(19, true), (21, true)]);
        assert_eq!(parse("22-24").unwrap().span(), (22, 24));
    }

    #[test]
    fn addresses_split_into_street_and_number() {
        let s = |a: &str| {
            let (street, n) = split_address(a);
            (street, n.map(|n| n.to_string()))
        };
        assert_eq!(s("Hegelstraße 12a"), ("Hegelstraße".into(), Some("12a".into())));
        assert_eq!(s("Abendstr. 11 A"), ("Abendstr.".into(), Some("11a".into())));
        assert_eq!(s("Mannerheimintie 11 B 5"), ("Mannerheimintie".into(), Some("11b 5".into())));
        assert_eq!(s("Straße des 17. Juni 3"), ("Straße des 17. Juni".into(), Some("3".into())));
        assert_eq!(s("Straße des 17. Juni"), ("Straße des 17. Juni".into(), None));
        assert_eq!(s("Am Umfassungsweg"), ("Am Umfassungsweg".into(), None));
        assert_eq!(s("Lindenstraße 5-7"), ("Lindenstraße".into(), Some("5–7".into())));
    }
}
