//! Blocks: the units a district is drawn from (a census grid cell, a street segment, an
//! address). Public data — residents per block, never pupils.

use crate::error::{Error, Result};
use crate::instance::table::{read_table, Row};
use crate::instance::{file_name, id_cmp};
use std::collections::HashMap;
use std::path::Path;

/// One block of the city.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Block {
    /// The block's id (a grid cell id `CRS3035RES100mN...E...`, a segment or an address id).
    pub id: String,
    /// Latitude of the block's representative point, in degrees (WGS84).
    pub lat: f64,
    /// Longitude of the block's representative point, in degrees (WGS84).
    pub lon: f64,
    /// Residents (all ages): where newcomers are likely to appear.
    pub residents: u32,
    /// For address blocks: the street and house number, used by the street list.
    pub street: Option<String>,
    /// For address blocks: the house number (with `street`).
    pub house_number: Option<String>,
}

/// Read a blocks file: CSV `block_id,lat,lon[,residents][,street,house_number]` (extra columns
/// ignored). Sorted by id; duplicate ids are errors.
pub fn read_blocks(path: &Path) -> Result<Vec<Block>> {
    let bytes = crate::instance::read_input(path)?;
    blocks_from_csv(&file_name(path), &bytes)
}

/// Parse a blocks table from CSV bytes (`file` names it in messages).
pub fn blocks_from_csv(file: &str, bytes: &[u8]) -> Result<Vec<Block>> {
    Ok(read_blocks_table(file, bytes, false)?.into_iter().map(|b| b.block).collect())
}

/// A block as read, before geocoding: blocks given by street and house number alone have no
/// location yet (`located` false; their `lat`/`lon` are NaN until placed).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockInput {
    /// The block; `lat`/`lon` are meaningful only when `located`.
    pub block: Block,
    /// Whether the file gave the block's coordinates.
    pub located: bool,
}

/// Parse a blocks table whose rows may give `street,house_number` instead of `lat,lon` (to be
/// geocoded): `block_id[,lat,lon][,residents][,street,house_number]`. Every row needs
/// coordinates or an address.
pub fn block_inputs_from_csv(file: &str, bytes: &[u8]) -> Result<Vec<BlockInput>> {
    read_blocks_table(file, bytes, true)
}

fn read_blocks_table(file: &str, bytes: &[u8], by_address: bool) -> Result<Vec<BlockInput>> {
    let required: &[&str] = if by_address { &["block_id"] } else { &["block_id", "lat", "lon"] };
    let table = read_table(file, bytes, required, false)?;
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(table.rows.len());
    let mut seen: HashMap<String, u64> = HashMap::new();
    for i in 0..table.rows.len() {
        let mut row = Row::new(&table, i, &mut problems);
        let id = row.id("block_id").map(str::to_string);
        let had_coords = row.get("lat").is_some() || row.get("lon").is_some();
        let loc = row.lat_lon(!by_address);
        let residents = row.u32("residents", false).unwrap_or(0);
        let street = row.get("street").map(str::to_string);
        let house_number = row.get("house_number").map(str::to_string);
        if house_number.is_some() && street.is_none() {
            row.problem("street", "is empty while 'house_number' is given");
        }
        if by_address && !had_coords && (street.is_none() || house_number.is_none()) {
            row.problem(
                "lat",
                "the block has no location: give 'lat,lon', or 'street,house_number' to geocode",
            );
        }
        if let Some(id) = &id {
            if let Some(first) = seen.get(id) {
                row.problem(
                    "block_id",
                    format!("duplicate block id '{id}' (first on line {first})"),
                );
            } else {
                seen.insert(id.clone(), row.line);
            }
        }
        match (id, loc) {
            (Some(id), Some((lat, lon))) => out.push(BlockInput {
                block: Block { id, lat, lon, residents, street, house_number },
                located: true,
            }),
            (Some(id), None) if by_address && !had_coords => out.push(BlockInput {
                block: Block { id, lat: f64::NAN, lon: f64::NAN, residents, street, house_number },
                located: false,
            }),
            _ => {}
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    out.sort_by(|a, b| id_cmp(&a.block.id, &b.block.id));
    Ok(out)
}

/// The block ids of a list (CSV with a `block_id` column; other columns ignored, ids may
/// repeat, so a plan's `routing-check.csv` serves as is). Every id must be a block of
/// `blocks`.
pub fn block_ids_from_csv(
    file: &str,
    bytes: &[u8],
    blocks: &[Block],
) -> Result<std::collections::HashSet<String>> {
    let table = read_table(file, bytes, &["block_id"], false)?;
    let mut problems = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for i in 0..table.rows.len() {
        let mut row = Row::new(&table, i, &mut problems);
        let Some(id) = row.required("block_id") else { continue };
        if blocks.binary_search_by(|b| id_cmp(&b.id, id)).is_err() {
            row.problem("block_id", format!("'{id}' is not a block of the blocks file"));
        } else {
            ids.insert(id.to_string());
        }
    }
    if !problems.is_empty() {
        return Err(Error::Input(problems));
    }
    Ok(ids)
}

/// A cell of the European statistical grid named as the Zensus names it,
/// `CRS3035RES{size}mN{northing}E{easting}`: its south-west corner and size in EPSG:3035 meters.
pub fn grid_cell(id: &str) -> Option<GridCell> {
    let rest = id.strip_prefix("CRS3035RES")?;
    let (size, rest) = rest.split_once("mN")?;
    let (n, e) = rest.split_once('E')?;
    let cell = GridCell { size: size.parse().ok()?, north: n.parse().ok()?, east: e.parse().ok()? };
    (cell.size > 0).then_some(cell)
}

/// A square of the EPSG:3035 grid: south-west corner and edge length in meters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GridCell {
    /// Edge length in meters.
    pub size: u32,
    /// Northing of the south-west corner, in EPSG:3035 meters.
    pub north: i64,
    /// Easting of the south-west corner, in EPSG:3035 meters.
    pub east: i64,
}

impl GridCell {
    /// The cell of the same grid containing a point given in EPSG:3035 meters.
    pub fn containing(size: u32, east: f64, north: f64) -> GridCell {
        let s = size as f64;
        GridCell {
            size,
            north: ((north / s).floor() * s) as i64,
            east: ((east / s).floor() * s) as i64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_ids_parse_and_points_find_their_cell() {
        let c = grid_cell("CRS3035RES100mN3216200E4433100").unwrap();
        assert_eq!(c, GridCell { size: 100, north: 3216200, east: 4433100 });
        assert_eq!(GridCell::containing(100, 4433199.9, 3216200.0), c);
        assert_eq!(GridCell::containing(100, 4433200.0, 3216200.0).east, 4433200);
        assert!(grid_cell("B17").is_none());
        assert!(grid_cell("CRS3035RES0mN1E1").is_none());
    }

    #[test]
    fn a_bad_blocks_file_names_line_and_field() {
        let err = blocks_from_csv(
            "blocks.csv",
            b"block_id,lat,lon\nA,52.1,11.6\nA,52.2,11.6\nB,x,11.6\n",
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("blocks.csv:3") && msg.contains("duplicate block id 'A'"), "{msg}");
        assert!(msg.contains("blocks.csv:4") && msg.contains("lat"), "{msg}");
    }
}
