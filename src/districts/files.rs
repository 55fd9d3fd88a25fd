//! The publishable files of a plan — `districts.csv`, `streets.csv`, `streets.html`,
//! `districts.geojson` — as text, and explanations answered from those files alone (so the CLI
//! reads them from a plan directory and the HTTP service from its stored artefacts).

use super::publish::Publication;
use super::streets::{StreetList, StreetListKind, StreetPart};
use super::{explain_numbers, Explanation};
use crate::error::{Error, Result};
use crate::instance::housenumber::{self, split_address};
use crate::instance::School;
use crate::routing::geocode::normalize_street;
use serde::{Deserialize, Serialize};

/// One row of `districts.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistrictRecord {
    /// The block's id.
    pub block_id: String,
    /// Empty for a block with no route to any school.
    pub school_id: String,
    /// Walking meters from the block to its school (empty: no route).
    pub walk_m: Option<u32>,
    /// The id of the nearest reachable school (empty: none).
    pub nearest_school_id: String,
    /// Walking meters from the block to the nearest school (empty: no route).
    pub nearest_walk_m: Option<u32>,
    /// What a seat at the nearest school would cost the others, in meters (price difference).
    pub cost_to_others_m: i64,
    /// Residents of the block (all ages).
    pub residents: u32,
    /// Plans kept close to last year's districts: the change cost this block's school saves
    /// against the nearest school (0 otherwise).
    #[serde(default)]
    pub keep_cost_m: i64,
    /// For address blocks: the street (empty otherwise).
    #[serde(default)]
    pub street: String,
    /// For address blocks: the house number (empty otherwise).
    #[serde(default)]
    pub house_number: String,
}

/// One row of `streets.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreetRecord {
    /// The street's name.
    pub street: String,
    /// Which part of the street: `whole street`, `from Wiener Straße to Ring`, or house numbers.
    #[serde(default)]
    pub part: String,
    /// House numbers of this part (e.g. `1–15 (odd)`); empty for grid blocks.
    pub house_numbers: String,
    /// The id of the part's school.
    pub school_id: String,
    /// The name of the part's school.
    pub school_name: String,
    /// Block ids, separated by spaces.
    pub blocks: String,
}

fn csv_text<T: Serialize>(rows: impl IntoIterator<Item = T>) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r).map_err(|e| Error::internal(e.to_string()))?;
    }
    let bytes = w.into_inner().map_err(|e| Error::internal(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| Error::internal(e.to_string()))
}

/// `districts.csv`: every block with its school and the numbers that explain it.
pub fn districts_csv(p: &Publication, schools: &[School]) -> Result<String> {
    let id = |s: Option<usize>| s.map(|s| schools[s].id.clone()).unwrap_or_default();
    csv_text(p.rows.iter().zip(&p.addresses).map(|(r, (street, number))| DistrictRecord {
        block_id: r.block_id.clone(),
        school_id: id(r.school),
        walk_m: r.walk_m,
        nearest_school_id: id(r.nearest.map(|n| n.0)),
        nearest_walk_m: r.nearest.map(|n| n.1),
        cost_to_others_m: r.cost_to_others_m,
        residents: r.residents,
        keep_cost_m: r.keep_cost_m,
        street: street.clone().unwrap_or_default(),
        house_number: number.clone().unwrap_or_default(),
    }))
}

/// One row of `split-streets.csv`: a street in more than one district.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitStreetRecord {
    /// The street's name.
    pub street: String,
    /// The districts it lies in.
    pub districts: usize,
    /// Its lines in `streets.csv`.
    pub parts: usize,
    /// The ids of its schools, separated by spaces.
    pub school_ids: String,
}

/// `streets.csv`: street, part, house numbers, school, blocks.
pub fn streets_csv(parts: &[StreetPart], schools: &[School]) -> Result<String> {
    csv_text(parts.iter().map(|p| StreetRecord {
        street: p.street.clone(),
        part: p.part.clone(),
        house_numbers: p.house_numbers.clone(),
        school_id: schools[p.school].id.clone(),
        school_name: schools[p.school].name.clone(),
        blocks: p.blocks.join(" "),
    }))
}

/// `split-streets.csv`: every street in more than one district, with its districts and parts.
pub fn split_streets_csv(list: &StreetList, schools: &[School]) -> Result<String> {
    let rows: Vec<SplitStreetRecord> = list
        .split_streets()
        .into_iter()
        .map(|s| SplitStreetRecord {
            street: s.street,
            districts: s.schools.len(),
            parts: s.parts,
            school_ids: s
                .schools
                .iter()
                .map(|&i| schools[i].id.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        })
        .collect();
    if rows.is_empty() {
        // The header alone: no street is split.
        return Ok("street,districts,parts,school_ids\n".into());
    }
    csv_text(rows)
}

/// Text for HTML element content and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `streets.html`: the street list as a printable page (self-contained). Streets are named
/// with their parts in words; no block id appears (grid cell ids stay in `streets.csv`).
pub fn streets_html(list: &StreetList, schools: &[School], title: &str) -> String {
    let e = escape_html;
    let grid = matches!(list.kind, StreetListKind::GridCells(_));
    let stats = list.stats();
    let mut rows = String::new();
    let mut previous: Option<&str> = None;
    for p in &list.parts {
        let s = &schools[p.school];
        let street = if previous == Some(p.street.as_str()) { String::new() } else { e(&p.street) };
        previous = Some(&p.street);
        let where_ = if grid { e(&p.part) } else { e(&p.house_numbers) };
        rows.push_str(&format!(
            "<tr><td>{street}</td><td>{where_}</td><td>{} <span class=\"id\">({})</span></td></tr>\n",
            e(&s.name),
            e(&s.id)
        ));
    }
    let head = if grid {
        "<th>Street</th><th>Part</th><th>School</th>"
    } else {
        "<th>Street</th><th>House numbers</th><th>School</th>"
    };
    let mut figures = format!(
        "{} streets: {} wholly in one district, {} in two or more",
        stats.total, stats.whole, stats.split
    );
    if stats.split > 0 {
        figures.push_str(&format!(" (at most {})", stats.districts_max));
    }
    figures.push('.');
    if let (Some(total), Some(split)) = (stats.segments, stats.split_segments) {
        figures.push_str(&format!(
            " Of {total} street segments between junctions, {split} lie in more than one district."
        ));
    }
    let split = list.split_streets();
    let split_table = if split.is_empty() {
        String::new()
    } else {
        let mut t = String::from(
            "<h2>Streets in more than one district</h2>\n<table class=\"split\"><thead><tr><th>Street</th><th>Districts</th>\
             <th>Parts</th><th>Schools</th></tr></thead><tbody>\n",
        );
        for s in &split {
            let names: Vec<String> = s.schools.iter().map(|&i| e(&schools[i].name)).collect();
            t.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                e(&s.street),
                s.schools.len(),
                s.parts,
                names.join(", ")
            ));
        }
        t.push_str("</tbody></table>\n");
        t
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\n<style>\n\
body{{font-family:sans-serif;margin:2em;color:#111}} table{{border-collapse:collapse;width:100%}}\n\
th,td{{border-bottom:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top;font-size:11pt}}\n\
th{{border-bottom:2px solid #333}} .id{{color:#666}} h2{{margin-top:1.5em}}\n\
@media print{{body{{margin:0}} tr{{page-break-inside:avoid}} h2{{page-break-before:always}}}}\n</style></head><body>\n\
<h1>{t}</h1>\n<p>{note}</p>\n<p class=\"figures\">{figures}</p>\n<table><thead><tr>{head}</tr></thead><tbody>\n{rows}</tbody></table>\n\
{split_table}</body></html>\n",
        t = e(title),
        note = e(&list.note()),
        figures = e(&figures),
    )
}

/// `districts.geojson` text, or `None` without polygons.
pub fn districts_geojson(p: &Publication) -> Option<String> {
    let polys = p.polygons.as_ref()?;
    let fc = super::polygons::feature_collection(polys, &p.properties);
    Some(geojson::GeoJson::FeatureCollection(fc).to_string() + "\n")
}

/// A question for `explain`: a block id, or an address ("Street 12", or just "Street").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Query {
    /// A block id, as in `districts.csv`.
    Block(String),
    /// A street address, "Street 12" or just "Street".
    Address(String),
}

/// The answer: one explanation per district the query falls in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The query as asked.
    pub query: String,
    /// How the query was matched (e.g. a street through several cells).
    pub note: String,
    /// One explanation per district the query falls in (several for a street).
    pub explanations: Vec<Explanation>,
}

/// Answer a query from the text of `districts.csv`, `streets.csv` (if any) and the schools
/// (id, name).
pub fn explain_from_files(
    districts: &str,
    streets: Option<&str>,
    schools: &[(String, String)],
    q: &Query,
) -> Result<Answer> {
    let records: Vec<DistrictRecord> = csv::Reader::from_reader(districts.as_bytes())
        .deserialize()
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::csv("districts.csv", e))?;
    let name = |id: &str| {
        schools
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| id.to_string())
    };
    let explain = |r: &DistrictRecord| -> Result<Explanation> {
        match (r.walk_m, r.nearest_walk_m) {
            (Some(w), Some(nd)) if !r.school_id.is_empty() => Ok(explain_numbers(
                &r.block_id,
                (&r.school_id, &name(&r.school_id)),
                w,
                (&r.nearest_school_id, &name(&r.nearest_school_id)),
                nd,
                r.cost_to_others_m,
                r.keep_cost_m,
            )),
            _ => Err(Error::not_found(format!(
                "block '{}' has no walking route to any school",
                r.block_id
            ))),
        }
    };
    let index: std::collections::HashMap<&str, &DistrictRecord> =
        records.iter().map(|r| (r.block_id.as_str(), r)).collect();
    let by_block = |id: &str| index.get(id).copied();
    match q {
        Query::Block(id) => {
            let r = by_block(id)
                .ok_or_else(|| Error::not_found(format!("block '{id}' is not in the districts")))?;
            Ok(Answer {
                query: id.clone(),
                note: format!("block {id}"),
                explanations: vec![explain(r)?],
            })
        }
        Query::Address(a) => {
            let (street, number) = split_address(a);
            let key = normalize_street(&street);
            // Address blocks: the exact house, or every part of the street.
            let on_street: Vec<&DistrictRecord> = records
                .iter()
                .filter(|r| !r.street.is_empty() && normalize_street(&r.street) == key)
                .collect();
            if !on_street.is_empty() {
                if let Some(n) = &number {
                    // The building: `11 B 5` is house 11b (flat 5); a block `11-13` holds 11 and 13.
                    let want = n.first().key();
                    let holds = |r: &DistrictRecord| {
                        housenumber::parse(&r.house_number)
                            .is_some_and(|h| h.covered(false).iter().any(|c| c.house.key() == want))
                    };
                    let r = on_street
                        .iter()
                        .find(|r| {
                            housenumber::parse(&r.house_number)
                                .is_some_and(|h| h.first().key() == want)
                        })
                        .or_else(|| on_street.iter().find(|r| holds(r)))
                        .or_else(|| {
                            // A staircase or suffix the districts do not list: the house.
                            let base = n.first().base();
                            on_street.iter().find(|r| {
                                housenumber::parse(&r.house_number)
                                    .is_some_and(|h| h.first().key() == base)
                            })
                        })
                        .ok_or_else(|| {
                            Error::not_found(format!(
                                "'{a}': the street is listed, this house number is not"
                            ))
                        })?;
                    return Ok(Answer {
                        query: a.clone(),
                        note: format!("address block {}", r.block_id),
                        explanations: vec![explain(r)?],
                    });
                }
                let mut seen = Vec::new();
                let mut out = Vec::new();
                for r in on_street {
                    if !seen.contains(&r.school_id) {
                        seen.push(r.school_id.clone());
                        out.push(explain(r)?);
                    }
                }
                let note = format!(
                    "the street lies in {} district(s); give a house number for one address",
                    out.len()
                );
                return Ok(Answer { query: a.clone(), note, explanations: out });
            }
            let Some(streets) = streets else {
                return Err(Error::not_found(format!(
                    "'{street}' is not in the districts, and the plan has no street list"
                )));
            };
            let parts: Vec<StreetRecord> = csv::Reader::from_reader(streets.as_bytes())
                .deserialize()
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| Error::csv("streets.csv", e))?;
            let hits: Vec<usize> =
                (0..parts.len()).filter(|&i| normalize_street(&parts[i].street) == key).collect();
            if hits.is_empty() {
                return Err(Error::not_found(format!(
                    "street '{street}' is not in the street list"
                )));
            }
            // One explanation per school: its cell nearest the school stands for its parts.
            let mut schools_seen: Vec<&str> = Vec::new();
            let mut cells: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
            let mut out = Vec::new();
            for &i in &hits {
                let school = parts[i].school_id.as_str();
                cells.extend(parts[i].blocks.split_whitespace());
                if schools_seen.contains(&school) {
                    continue;
                }
                schools_seen.push(school);
                let best = hits
                    .iter()
                    .filter(|&&j| parts[j].school_id == school)
                    .flat_map(|&j| parts[j].blocks.split_whitespace())
                    .filter_map(by_block)
                    .min_by_key(|r| (r.walk_m.unwrap_or(u32::MAX), r.block_id.clone()));
                if let Some(r) = best {
                    out.push(explain(r)?);
                }
            }
            let cells = cells.len();
            let note = if schools_seen.len() == 1 {
                format!(
                    "'{}' lies in {cells} grid cell(s), all in one district{}",
                    parts[hits[0]].street,
                    if number.is_some() { " (this case has no house numbers)" } else { "" }
                )
            } else {
                let named: Vec<String> = hits
                    .iter()
                    .map(|&i| match parts[i].part.as_str() {
                        "" => parts[i].school_id.clone(),
                        p => format!("{p}: {}", parts[i].school_id),
                    })
                    .collect();
                format!(
                    "'{}' lies in {cells} grid cells in {} districts ({}); this case has no house numbers, so each district's part \
                     is explained by its cell nearest the school (see streets.csv for the cells)",
                    parts[hits[0]].street,
                    schools_seen.len(),
                    named.join("; ")
                )
            };
            Ok(Answer { query: a.clone(), note, explanations: out })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_reads_house_numbers_as_the_geocoder_does() {
        // Issue 14: `explain --address` rejected "11 B 5" (house, staircase, flat).
        let districts = "block_id,school_id,walk_m,nearest_school_id,nearest_walk_m,cost_to_others_m,residents,keep_cost_m,street,house_number\n\
            b1,S1,400,S1,400,0,10,0,Mannerheimintie,11\n\
            b2,S2,500,S2,500,0,10,0,Mannerheimintie,13-15\n\
            b3,S1,450,S1,450,0,10,0,Hauptstraße,20 A\n";
        let schools = vec![("S1".to_string(), "One".to_string()), ("S2".into(), "Two".into())];
        let ask = |a: &str| {
            explain_from_files(districts, None, &schools, &Query::Address(a.into()))
                .map(|ans| ans.note)
        };
        assert_eq!(ask("Mannerheimintie 11 B 5").unwrap(), "address block b1");
        assert_eq!(
            ask("Mannerheimintie 15").unwrap(),
            "address block b2",
            "inside a block's range"
        );
        assert_eq!(ask("Hauptstr. 20a").unwrap(), "address block b3");
        assert!(ask("Mannerheimintie 14").is_err(), "14 is not on the odd side's range 13-15");
    }
}
