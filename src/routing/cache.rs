//! A disk cache of routed tables, so that a re-run with the same addresses, schools and
//! routing dataset asks the server nothing.
//!
//! The key is a SHA-256 over the profile, the checksum of the OSM extract the server was
//! prepared from, and every source and destination coordinate (exact f64 bits, in order). A
//! cached file holds only the key's digest and the distances: no coordinate is stored.

use crate::routing::table::{LatLon, TableAnswer};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The digest that names a cached table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey(pub String);

impl CacheKey {
    /// The key of one table: SHA-256 over `profile`, the extract's `dataset_checksum` and
    /// every coordinate (exact bits, in order).
    pub fn new(
        profile: &str,
        dataset_checksum: &str,
        sources: &[LatLon],
        destinations: &[LatLon],
    ) -> CacheKey {
        let mut h = Sha256::new();
        h.update(b"catchment table v1\0");
        h.update(profile.as_bytes());
        h.update(b"\0");
        h.update(dataset_checksum.as_bytes());
        h.update(b"\0");
        h.update((sources.len() as u64).to_le_bytes());
        h.update((destinations.len() as u64).to_le_bytes());
        for (lat, lon) in sources.iter().chain(destinations) {
            h.update(lat.to_bits().to_le_bytes());
            h.update(lon.to_bits().to_le_bytes());
        }
        CacheKey(hex(&h.finalize()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file (the OSM extract a routing dataset was prepared from), in hex.
pub fn file_checksum(path: &Path) -> Result<String, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// A directory of cached tables, one JSON file per key.
#[derive(Debug, Clone)]
pub struct MatrixCache {
    dir: PathBuf,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    key: String,
    table: TableAnswer,
}

impl MatrixCache {
    /// A cache stored in `dir` (created on the first `put`).
    pub fn new(dir: impl Into<PathBuf>) -> MatrixCache {
        MatrixCache { dir: dir.into() }
    }

    fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("table-{}.json", key.0))
    }

    /// The cached table, if any. A damaged file counts as a miss.
    pub fn get(&self, key: &CacheKey) -> Result<Option<TableAnswer>, String> {
        let path = self.path(key);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        match serde_json::from_str::<Entry>(&text) {
            Ok(e) if e.key == key.0 => Ok(Some(e.table)),
            _ => {
                tracing::warn!(file = %path.display(), "ignoring a damaged cache file");
                Ok(None)
            }
        }
    }

    /// Store a table (written to a temporary file, then renamed: never half a file).
    pub fn put(&self, key: &CacheKey, table: &TableAnswer) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| format!("{}: {e}", self.dir.display()))?;
        let path = self.path(key);
        let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
        let body = serde_json::to_vec(&Entry { key: key.0.clone(), table: table.clone() })
            .map_err(|e| e.to_string())?;
        std::fs::write(&tmp, body).map_err(|e| format!("{}: {e}", tmp.display()))?;
        std::fs::rename(&tmp, &path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_changes_with_every_part() {
        let s = [(52.1, 11.6), (52.2, 11.7)];
        let d = [(52.15, 11.65)];
        let k = CacheKey::new("foot", "abc", &s, &d);
        assert_eq!(k, CacheKey::new("foot", "abc", &s, &d));
        assert_ne!(k, CacheKey::new("car", "abc", &s, &d));
        assert_ne!(k, CacheKey::new("foot", "abd", &s, &d));
        assert_ne!(k, CacheKey::new("foot", "abc", &[(52.1, 11.6), (52.2, 11.700000001)], &d));
        assert_ne!(k, CacheKey::new("foot", "abc", &[s[1], s[0]], &d));
        // Moving a destination into the sources is a different table.
        assert_ne!(k, CacheKey::new("foot", "abc", &[s[0]], &[s[1], d[0]]));
    }

    #[test]
    fn round_trip_and_damaged_file_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let c = MatrixCache::new(dir.path().join("cache"));
        let k = CacheKey::new("foot", "x", &[(1.0, 2.0)], &[(3.0, 4.0)]);
        assert_eq!(c.get(&k).unwrap(), None);
        let t = TableAnswer {
            distances: vec![vec![Some(12.5)]],
            durations: vec![vec![None]],
            source_snap: vec![3.25],
            destination_snap: vec![0.5],
        };
        c.put(&k, &t).unwrap();
        assert_eq!(c.get(&k).unwrap(), Some(t));
        std::fs::write(c.path(&k), "{not json").unwrap();
        assert_eq!(c.get(&k).unwrap(), None);
    }
}
