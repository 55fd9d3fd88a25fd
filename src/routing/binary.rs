//! The binary matrix format: the same pupil (or block) x school meters as the long CSV, read at
//! the speed of the disk. Readers tell it from CSV by its first bytes (the magic number), never
//! by the file's name. Version 1, all integers little-endian:
//!
//! | offset | bytes | what |
//! |---|---|---|
//! | 0 | 8 | magic number `89 43 4D 58 0D 0A 1A 0A` (`\x89CMX\r\n\x1a\n`) |
//! | 8 | 4 | format version: 1 |
//! | 12 | 4 | flags: bit 0 rows are blocks (`block_id`), else pupils; bit 1 each row's seconds follow its meters; bit 2 sparse rows (each row gives only some schools, below); other bits 0 |
//! | 16 | 4 | rows R |
//! | 20 | 4 | schools S |
//! | 24 | 8 | N: bytes of the id section |
//! | 32 | 4 | CRC-32 of the id section |
//! | 36 | 4 | CRC-32 of bytes 0..36 (the header) |
//! | 40 | N | id section: the distance source, the R row ids, the S school ids; each a u32 byte length and UTF-8 |
//! | 40 + N | 4 R S (8 R S with seconds) | body: per row, S u32 meters (then S u32 seconds); `u32::MAX` = unreachable |
//! | end - 4 | 4 | CRC-32 of the body |
//!
//! With bit 2 (sparse rows: a partial matrix, e.g. each pupil's nearest schools for
//! `--nearest`) the body gives only the pairs a row has, and its length follows the pairs:
//!
//! | offset (in a row) | bytes | what |
//! |---|---|---|
//! | 0 | 4 | n: the row's pairs, at most S (0: none) |
//! | 4 | 4 n | the pairs' schools: u32 indices into the S school ids, strictly ascending, each below S |
//! | 4 + 4 n | 4 n | the pairs' meters, in the same order; `u32::MAX` = unreachable |
//! | 4 + 8 n | 4 n | with bit 1 only: the pairs' seconds |
//!
//! The R rows follow one another from offset 40 + N; the body's CRC-32 (of every row's bytes,
//! counts included) follows the last row and ends the file. A pair a row does not list is not
//! given (unknown, not unreachable).
//!
//! CRC-32 is the IEEE polynomial (zlib's, `crc32fast`). Each part is checked before it is used
//! (the body's checksum when its last row is read), so a damaged file is refused for its
//! damage, not for what the damage looks like: a sparse row that breaks the rules (a count
//! above S, a school index out of range or not ascending, rows ending before or after the
//! body) is reported as such only when the body's checksum holds, as a checksum mismatch
//! otherwise. catchment writes rows and schools in id order (`instance::id_cmp`), the order of
//! an instance, so reading copies whole rows; readers match ids, not positions.

use crate::error::{Error, Result};
use std::io::{Read, Write};

/// The first eight bytes of every binary matrix file: not UTF-8 (so never CSV text), with a
/// CR LF and a LF that a text-mode transfer would change.
pub const MAGIC: [u8; 8] = *b"\x89CMX\r\n\x1a\n";
/// The version this code reads and writes.
pub const VERSION: u32 = 1;
/// Bytes before the id section.
pub const HEADER_LEN: usize = 40;
const FLAG_BLOCKS: u32 = 1;
const FLAG_SECONDS: u32 = 2;
const FLAG_SPARSE: u32 = 4;
/// The value below `UNREACHABLE` (`u32::MAX`): no distance, refused like the CSV's
/// "too large".
const TOO_LARGE: u32 = u32::MAX - 1;
/// A row wider than this is refused before any allocation (16 million schools).
const MAX_ROW_BYTES: u64 = 1 << 27;

/// Everything a binary matrix says before its body.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// Rows are blocks (`block_id`), not pupils.
    pub blocks: bool,
    /// Each row carries walking seconds after its meters.
    pub seconds: bool,
    /// Sparse rows: each row gives only some schools (a partial matrix), handed to
    /// [`RowSink::pairs`] instead of [`RowSink::row`].
    pub sparse: bool,
    /// Where the distances come from (empty: not said).
    pub source: String,
    /// Row ids: pupils or blocks.
    pub rows: Vec<String>,
    /// School ids, the columns.
    pub schools: Vec<String>,
}

impl Header {
    /// The CSV column the rows stand for: `pupil_id` or `block_id`.
    pub fn row_column(&self) -> &'static str {
        if self.blocks {
            "block_id"
        } else {
            "pupil_id"
        }
    }
}

/// What a reader does with a binary matrix, part by part.
pub trait RowSink {
    /// The header and ids, before the first row.
    fn header(&mut self, header: &Header);
    /// Row `r` (in file order): meters to every school of the file, and seconds when the file
    /// has them.
    fn row(&mut self, r: usize, meters: &[u32], seconds: Option<&[u32]>);
    /// Where row `r` goes when the sink keeps rows whole: slices as long as the file's rows
    /// (meters, and seconds when the file has them), decoded into in place of a call to
    /// [`RowSink::row`]. `None` (the default): through `row`.
    fn place(&mut self, _r: usize) -> Option<(&mut [u32], Option<&mut [u32]>)> {
        None
    }
    /// Row `r` (in file order) of a file with sparse rows ([`Header::sparse`]): the schools it
    /// gives (indices into the file's schools, strictly ascending), their meters, and their
    /// seconds when the file has them. A dense file never calls it.
    fn pairs(&mut self, r: usize, schools: &[u32], meters: &[u32], seconds: Option<&[u32]>);
}

/// Little-endian u32s from `bytes` into `dst`; the position of the first [`TOO_LARGE`].
#[inline]
fn decode(bytes: &[u8], dst: &mut [u32]) -> Option<usize> {
    for (v, b) in dst.iter_mut().zip(bytes.chunks_exact(4)) {
        *v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    dst.iter().position(|&v| v == TOO_LARGE)
}

/// The two matrix file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Long CSV text.
    Csv,
    /// This module's format.
    Binary,
}

/// Tell a matrix file's format from its first (up to 8) bytes; a file that is neither is
/// refused here with a message saying so.
pub fn detect(name: &str, head: &[u8]) -> Result<Format> {
    if head.starts_with(&MAGIC) {
        return Ok(Format::Binary);
    }
    let n = head.len().min(MAGIC.len());
    if n >= 4 && head[..n] == MAGIC[..n] {
        return Err(input(
            name,
            format!("the binary matrix is truncated: it ends after {n} bytes, inside its header"),
        ));
    }
    if head.starts_with(&MAGIC[..4]) {
        return Err(input(
            name,
            "wrong magic number: the binary matrix's first bytes are damaged (was it transferred \
             as text, changing line ends?)",
        ));
    }
    // Text never holds control bytes other than tab and line ends.
    let control = |b: &u8| (*b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || *b == 0x7f;
    if head.first() == Some(&0x89) || head.iter().any(control) {
        return Err(input(
            name,
            "wrong magic number: neither a CSV matrix (UTF-8 text) nor a binary matrix (which \
             starts with the bytes 89 43 4D 58 0D 0A 1A 0A)",
        ));
    }
    Ok(Format::Csv)
}

/// The reader's format and the reader itself, its first bytes put back.
pub type Sniffed<R> = std::io::Chain<std::io::Cursor<Vec<u8>>, R>;

/// Read the first bytes of `r` to tell its format ([`detect`]); the returned reader starts at
/// the beginning again.
pub fn sniff<R: Read>(name: &str, mut r: R) -> Result<(Format, Sniffed<R>)> {
    let mut head = Vec::with_capacity(MAGIC.len());
    (&mut r).take(MAGIC.len() as u64).read_to_end(&mut head).map_err(|e| Error::io(name, e))?;
    let format = detect(name, &head)?;
    Ok((format, std::io::Cursor::new(head).chain(r)))
}

fn input(name: &str, message: impl Into<String>) -> Error {
    Error::input(name, None, None, message)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Read until `buf` is full or the input ends; the number of bytes read.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

struct Input<'a, R> {
    r: R,
    name: &'a str,
    pos: u64,
    /// The file's length as its header announces it, once read.
    total: Option<u64>,
    /// `total` is the least length (sparse rows: the length follows the pairs).
    at_least: bool,
}

impl<R: Read> Input<'_, R> {
    fn exact(&mut self, buf: &mut [u8]) -> Result<()> {
        let got = fill(&mut self.r, buf).map_err(|e| Error::io(self.name, e))?;
        self.pos += got as u64;
        if got < buf.len() {
            return Err(self.truncated(self.pos));
        }
        Ok(())
    }

    fn truncated(&self, len: u64) -> Error {
        match self.total {
            Some(t) => input(
                self.name,
                format!(
                    "the binary matrix is truncated: it ends after {len} bytes, but its header \
                     announces {}{t}",
                    if self.at_least { "at least " } else { "" }
                ),
            ),
            None => input(
                self.name,
                format!(
                    "the binary matrix is truncated: it ends after {len} bytes, inside its header"
                ),
            ),
        }
    }
}

/// Read a binary matrix from `r` (at its first byte), handing the ids and then every row to
/// `sink`; `len` is the input's length when known (a file), so that a truncated file is
/// refused before its body is read. Every problem of the file itself (magic number, version,
/// checksums, truncation, sizes, ids that are not UTF-8 or repeat) is an input error naming
/// `name`; whether the ids fit an instance is the sink's business.
pub fn read<R: Read>(
    name: &str,
    r: R,
    len: Option<u64>,
    sink: &mut impl RowSink,
) -> Result<Header> {
    let mut inp = Input { r, name, pos: 0, total: None, at_least: false };
    let mut h = [0u8; HEADER_LEN];
    let got = fill(&mut inp.r, &mut h).map_err(|e| Error::io(name, e))?;
    inp.pos = got as u64;
    if detect(name, &h[..got.min(8)])? != Format::Binary {
        return Err(input(name, "wrong magic number: not a binary matrix"));
    }
    if got < HEADER_LEN {
        return Err(inp.truncated(got as u64));
    }
    let version = u32_at(&h, 8);
    if version != VERSION {
        return Err(input(
            name,
            format!(
                "binary matrix format version {version} is not supported: this catchment reads \
                 version {VERSION}"
            ),
        ));
    }
    if crc32fast::hash(&h[..36]) != u32_at(&h, 36) {
        return Err(input(name, "checksum mismatch: the binary matrix's header is damaged"));
    }
    let flags = u32_at(&h, 12);
    if flags & !(FLAG_BLOCKS | FLAG_SECONDS | FLAG_SPARSE) != 0 {
        return Err(input(name, format!("unknown flags {flags:#x} in the binary matrix's header")));
    }
    let seconds = flags & FLAG_SECONDS != 0;
    let sparse = flags & FLAG_SPARSE != 0;
    let (n_rows, n_schools) = (u32_at(&h, 16) as u64, u32_at(&h, 20) as u64);
    // A sparse file's size follows its pairs (bounded as it is read), not rows x schools.
    if !sparse && n_rows.saturating_mul(n_schools) > crate::instance::limits::MAX_MATRIX_CELLS {
        let what = if flags & FLAG_BLOCKS != 0 { "blocks" } else { "pupils" };
        return Err(crate::instance::limits::matrix_too_large(name, n_rows, n_schools, what));
    }
    let id_len = u64::from_le_bytes(h[24..32].try_into().unwrap_or_default());
    let values = if seconds { 2 } else { 1 };
    // Sparse: the widest row (every school, with its index) and the least body (every row's
    // count, no pairs).
    let row_bytes = n_schools * 4 * if sparse { values + 1 } else { values };
    let body_least = if sparse { 4 } else { row_bytes };
    let total = (HEADER_LEN as u64)
        .checked_add(id_len)
        .and_then(|t| t.checked_add(n_rows.checked_mul(body_least)?))
        .and_then(|t| t.checked_add(4));
    let Some(total) = total.filter(|_| row_bytes <= MAX_ROW_BYTES) else {
        return Err(input(
            name,
            format!("the binary matrix's header announces {n_rows} rows x {n_schools} schools: too large"),
        ));
    };
    if id_len < 4 * (1 + n_rows + n_schools) {
        return Err(input(
            name,
            format!("the binary matrix's id section ({id_len} bytes) is too short for {n_rows} rows and {n_schools} schools"),
        ));
    }
    inp.total = Some(total);
    inp.at_least = sparse;
    match len {
        Some(len) if len < total => return Err(inp.truncated(len)),
        Some(len) if len > total && !sparse => {
            return Err(input(
                name,
                format!(
                    "{} bytes follow the end of the binary matrix (its header announces {total} \
                     bytes)",
                    len - total
                ),
            ))
        }
        _ => {}
    }

    // The id section: read as far as the input goes (a length from a damaged header allocates
    // no more than the input holds).
    let mut ids = Vec::new();
    (&mut inp.r).take(id_len).read_to_end(&mut ids).map_err(|e| Error::io(name, e))?;
    inp.pos += ids.len() as u64;
    if (ids.len() as u64) < id_len {
        return Err(inp.truncated(inp.pos));
    }
    if crc32fast::hash(&ids) != u32_at(&h, 32) {
        return Err(input(name, "checksum mismatch: the binary matrix's id section is damaged"));
    }
    let mut at = 0usize;
    let mut next = |what: &dyn Fn() -> String, max: usize| -> Result<String> {
        if ids.len() - at < 4 {
            return Err(input(name, format!("the id section ends inside {}", what())));
        }
        let n = u32_at(&ids, at) as usize;
        at += 4;
        if ids.len() - at < n {
            return Err(input(name, format!("the id section ends inside {}", what())));
        }
        if n > max {
            return Err(input(
                name,
                format!("{}: {}", what(), crate::instance::limits::id_too_long()),
            ));
        }
        let s = std::str::from_utf8(&ids[at..at + n])
            .map_err(|_| input(name, format!("{} is not valid UTF-8", what())))?;
        at += n;
        Ok(s.to_string())
    };
    let source = next(&|| "the source".into(), usize::MAX)?;
    let max_id = crate::instance::limits::MAX_ID_BYTES;
    let key = if flags & FLAG_BLOCKS != 0 { "block" } else { "pupil" };
    let rows = (0..n_rows)
        .map(|i| next(&|| format!("{key} id number {}", i + 1), max_id))
        .collect::<Result<Vec<_>>>()?;
    let schools = (0..n_schools)
        .map(|i| next(&|| format!("school id number {}", i + 1), max_id))
        .collect::<Result<Vec<_>>>()?;
    if at != ids.len() {
        return Err(input(
            name,
            format!("{} unused bytes at the end of the id section", ids.len() - at),
        ));
    }
    drop(ids);
    for (what, list) in [(key, &rows), ("school", &schools)] {
        let mut seen = std::collections::HashSet::with_capacity(list.len());
        if let Some(i) = list.iter().position(|id| !seen.insert(id.as_str())) {
            // Pupil ids are not echoed; a block's or school's is.
            let shown = match what {
                "pupil" => format!("pupil id number {}", i + 1),
                _ => format!("{what} id '{}'", crate::instance::limits::shown(&list[i])),
            };
            return Err(input(name, format!("{shown} appears twice")));
        }
    }
    let header =
        Header { blocks: flags & FLAG_BLOCKS != 0, seconds, sparse, source, rows, schools };
    sink.header(&header);
    if sparse {
        read_sparse_body(&mut inp, &header, len, sink)?;
        return Ok(header);
    }

    // The body, a chunk of whole rows at a time.
    let n_s = n_schools as usize;
    let row_bytes = row_bytes as usize;
    let mut crc = crc32fast::Hasher::new();
    let mut too_large: Option<(usize, usize)> = None;
    let mut vals = vec![0u32; row_bytes / 4];
    match (1usize << 20).checked_div(row_bytes) {
        // No schools: empty rows.
        None => {
            for r in 0..n_rows as usize {
                sink.row(r, &[], seconds.then_some(&[][..]));
            }
        }
        Some(per_chunk) => {
            let chunk_rows = per_chunk.max(1);
            let mut buf = vec![0u8; chunk_rows.min(n_rows as usize) * row_bytes];
            let mut r = 0usize;
            while r < n_rows as usize {
                let n = chunk_rows.min(n_rows as usize - r);
                let chunk = &mut buf[..n * row_bytes];
                inp.exact(chunk)?;
                crc.update(chunk);
                for bytes in chunk.chunks_exact(row_bytes) {
                    let (mb, sb) = bytes.split_at(n_s * 4);
                    let bad = match sink.place(r) {
                        Some((m, s)) => {
                            let bad_m = decode(mb, m);
                            let bad_s = s.and_then(|s| decode(sb, s)).map(|c| c + n_s);
                            bad_m.or(bad_s)
                        }
                        None => {
                            let bad = decode(bytes, &mut vals);
                            let (m, s) = vals.split_at(n_s);
                            sink.row(r, m, seconds.then_some(s));
                            bad
                        }
                    };
                    if too_large.is_none() {
                        too_large = bad.map(|c| (r, c));
                    }
                    r += 1;
                }
            }
        }
    }
    let mut trailer = [0u8; 4];
    inp.exact(&mut trailer)?;
    if u32::from_le_bytes(trailer) != crc.finalize() {
        return Err(input(name, "checksum mismatch: the binary matrix's body is damaged"));
    }
    if len.is_none() {
        let mut one = [0u8; 1];
        if fill(&mut inp.r, &mut one).map_err(|e| Error::io(name, e))? > 0 {
            return Err(input(name, "bytes follow the end of the binary matrix"));
        }
    }
    if let Some((r, c)) = too_large {
        let (what, c) = if c < n_s { ("meters", c) } else { ("seconds", c - n_s) };
        return Err(too_large_error(name, &header, what, r, c));
    }
    Ok(header)
}

/// The error of a value [`TOO_LARGE`] at row `r`, school `c` (file positions).
fn too_large_error(name: &str, header: &Header, what: &str, r: usize, c: usize) -> Error {
    input(
        name,
        format!(
            "{what} from '{}' to '{}' is too large ({TOO_LARGE}; {} is unreachable)",
            header.rows[r],
            header.schools[c],
            u32::MAX
        ),
    )
}

/// Why a sparse body cannot be read as rows: the message, reported when the body's checksum
/// holds (a file written wrong), a checksum mismatch otherwise (a damaged one).
struct Broken(String);

/// The sparse rows of a file after its id section ([`read`] has read the rest), handed to
/// `sink.pairs`, then the body's checksum.
fn read_sparse_body<R: Read>(
    inp: &mut Input<'_, R>,
    header: &Header,
    len: Option<u64>,
    sink: &mut impl RowSink,
) -> Result<()> {
    let name = inp.name;
    let (n_rows, n_s) = (header.rows.len(), header.schools.len());
    let values = if header.seconds { 2 } else { 1 };
    // Where the body ends when the input's length is known: its checksum is the last 4 bytes.
    let body_end = len.map(|l| l - 4);
    let mut crc = crc32fast::Hasher::new();
    let mut buf: Vec<u8> = Vec::new();
    let (mut schools, mut vals) = (Vec::<u32>::new(), Vec::<u32>::new());
    let mut too_large: Option<(usize, usize, &str)> = None;
    let mut pairs = 0u64;
    let truncated = |at: u64, r: usize| {
        let inside = match r < n_rows {
            true => format!("row {} of its {n_rows} sparse rows", r + 1),
            false => "the checksum after its last row".to_string(),
        };
        input(
            name,
            format!("the binary matrix is truncated: it ends after {at} bytes, inside {inside}"),
        )
    };
    let mut broken = None;
    'rows: for r in 0..n_rows {
        // The count, then the row's pairs; a row past the body's end is a truncated file.
        let mut count = [0u8; 4];
        if body_end.is_some_and(|e| inp.pos + 4 > e) {
            return Err(truncated(len.unwrap_or(inp.pos), r));
        }
        if fill(&mut inp.r, &mut count).map_err(|e| Error::io(name, e))? < 4 {
            return Err(truncated(inp.pos, r));
        }
        inp.pos += 4;
        crc.update(&count);
        let n = u32::from_le_bytes(count) as usize;
        if n > n_s {
            broken = Some(Broken(format!(
                "row {} of the binary matrix announces {n} pairs, more than its {n_s} schools",
                r + 1
            )));
            break;
        }
        pairs += n as u64;
        if pairs > crate::instance::limits::MAX_MATRIX_CELLS {
            return Err(input(
                name,
                format!(
                    "the binary matrix gives more than {} pairs, the most a matrix may have",
                    crate::instance::limits::thousands(crate::instance::limits::MAX_MATRIX_CELLS)
                ),
            ));
        }
        let bytes = n * 4 * (1 + values);
        if body_end.is_some_and(|e| inp.pos + bytes as u64 > e) {
            return Err(truncated(len.unwrap_or(inp.pos), r));
        }
        buf.resize(bytes, 0);
        let got = fill(&mut inp.r, &mut buf).map_err(|e| Error::io(name, e))?;
        inp.pos += got as u64;
        if got < bytes {
            return Err(truncated(inp.pos, r));
        }
        crc.update(&buf);
        schools.resize(n, 0);
        vals.resize(n * values, 0);
        let (ib, vb) = buf.split_at(n * 4);
        decode(ib, &mut schools);
        let bad = decode(vb, &mut vals);
        for (i, &c) in schools.iter().enumerate() {
            if c as usize >= n_s {
                broken = Some(Broken(format!(
                    "row {} of the binary matrix names school index {c}, out of range (it has {n_s} schools)",
                    r + 1
                )));
                break 'rows;
            }
            if i > 0 && c <= schools[i - 1] {
                broken = Some(Broken(format!(
                    "row {} of the binary matrix gives its school indices out of order ({c} after {}): they must be strictly ascending",
                    r + 1,
                    schools[i - 1]
                )));
                break 'rows;
            }
        }
        if too_large.is_none() {
            too_large = bad.map(|i| {
                let (what, i) = if i < n { ("meters", i) } else { ("seconds", i - n) };
                (r, schools[i] as usize, what)
            });
        }
        let (m, s) = vals.split_at(n);
        sink.pairs(r, &schools, m, header.seconds.then_some(s));
    }
    if broken.is_none() {
        if let Some(e) = body_end.filter(|&e| inp.pos < e) {
            // Bytes after the last row: a file with something appended (its checksum right
            // after the rows), or a damaged count.
            let at_end = crc.clone().finalize();
            let mut trailer = [0u8; 4];
            inp.exact(&mut trailer)?;
            if u32::from_le_bytes(trailer) == at_end {
                let extra = e + 4 - inp.pos;
                return Err(input(
                    name,
                    format!(
                        "{extra} bytes follow the end of the binary matrix (its last row and checksum end at {})",
                        inp.pos
                    ),
                ));
            }
            crc.update(&trailer);
            broken = Some(Broken(format!(
                "the binary matrix's body goes on for {} bytes after its last row",
                e + 4 - inp.pos
            )));
        }
    }
    let body_crc = match (&broken, body_end) {
        (None, _) => {
            let mut trailer = [0u8; 4];
            let got = fill(&mut inp.r, &mut trailer).map_err(|e| Error::io(name, e))?;
            inp.pos += got as u64;
            if got < 4 {
                return Err(truncated(inp.pos, n_rows));
            }
            let at_end = crc.clone().finalize();
            if u32::from_le_bytes(trailer) != at_end && body_end.is_none() {
                // A damaged file, or rows that end before the body: the input's last 4 bytes
                // tell.
                crc.update(&trailer);
                broken =
                    Some(Broken("the binary matrix's body goes on after its last row".to_string()));
                drain_to_end(inp, &mut crc)?
            } else {
                (u32::from_le_bytes(trailer), at_end)
            }
        }
        (Some(_), Some(e)) => {
            // The rest of the body, then its checksum.
            let mut rest = (&mut inp.r).take(e - inp.pos);
            let n = std::io::copy(&mut rest, &mut HashWriter(&mut crc))
                .map_err(|e| Error::io(name, e))?;
            inp.pos += n;
            let mut trailer = [0u8; 4];
            inp.exact(&mut trailer)?;
            (u32::from_le_bytes(trailer), crc.finalize())
        }
        (Some(_), None) => drain_to_end(inp, &mut crc)?,
    };
    if body_crc.0 != body_crc.1 {
        return Err(input(name, "checksum mismatch: the binary matrix's body is damaged"));
    }
    if let Some(Broken(msg)) = broken {
        return Err(input(name, msg));
    }
    if len.is_none() {
        let mut one = [0u8; 1];
        if fill(&mut inp.r, &mut one).map_err(|e| Error::io(name, e))? > 0 {
            return Err(input(name, "bytes follow the end of the binary matrix"));
        }
    }
    if let Some((r, c, what)) = too_large {
        return Err(too_large_error(name, header, what, r, c));
    }
    Ok(())
}

/// The rest of an input of unknown length into `crc` but its last 4 bytes, the body's
/// checksum: (that checksum, the one computed).
fn drain_to_end<R: Read>(
    inp: &mut Input<'_, R>,
    crc: &mut crc32fast::Hasher,
) -> Result<(u32, u32)> {
    let name = inp.name;
    let mut lag = Vec::with_capacity(4);
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let got = fill(&mut inp.r, &mut chunk).map_err(|e| Error::io(name, e))?;
        if got == 0 {
            break;
        }
        inp.pos += got as u64;
        lag.extend_from_slice(&chunk[..got]);
        let keep = lag.len().saturating_sub(4);
        crc.update(&lag[..keep]);
        lag.drain(..keep);
    }
    if lag.len() < 4 {
        return Err(input(
            name,
            format!(
                "the binary matrix is truncated: it ends after {} bytes, before its checksum",
                inp.pos
            ),
        ));
    }
    Ok((u32_at(&lag, 0), crc.clone().finalize()))
}

/// Bytes written into a checksum.
struct HashWriter<'a>(&'a mut crc32fast::Hasher);

impl Write for HashWriter<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.update(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn bad(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_string())
}

/// The header and id section of a file with `header`'s ids; `seconds` and `sparse` as the
/// body is written.
fn write_head(
    w: &mut impl Write,
    header: &Header,
    seconds: bool,
    sparse: bool,
) -> std::io::Result<()> {
    let (n_r, n_s) = (header.rows.len(), header.schools.len());
    if n_r > u32::MAX as usize || n_s > u32::MAX as usize {
        return Err(bad("too many rows or schools for a binary matrix"));
    }
    let mut ids = Vec::new();
    for s in std::iter::once(&header.source).chain(&header.rows).chain(&header.schools) {
        let n = u32::try_from(s.len()).map_err(|_| bad("an id longer than 4 GiB"))?;
        ids.extend_from_slice(&n.to_le_bytes());
        ids.extend_from_slice(s.as_bytes());
    }
    let flags = if header.blocks { FLAG_BLOCKS } else { 0 }
        | if seconds { FLAG_SECONDS } else { 0 }
        | if sparse { FLAG_SPARSE } else { 0 };
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(&MAGIC);
    h.extend_from_slice(&VERSION.to_le_bytes());
    h.extend_from_slice(&flags.to_le_bytes());
    h.extend_from_slice(&(n_r as u32).to_le_bytes());
    h.extend_from_slice(&(n_s as u32).to_le_bytes());
    h.extend_from_slice(&(ids.len() as u64).to_le_bytes());
    h.extend_from_slice(&crc32fast::hash(&ids).to_le_bytes());
    let header_crc = crc32fast::hash(&h);
    h.extend_from_slice(&header_crc.to_le_bytes());
    w.write_all(&h)?;
    w.write_all(&ids)
}

/// Write a binary matrix: `meters` (and `seconds`) row-major, `header.rows.len()` x
/// `header.schools.len()`; the header's `seconds` flag is taken from `seconds` (its `sparse`
/// flag is not used: see [`write_sparse`]).
pub fn write<W: Write>(
    mut w: W,
    header: &Header,
    meters: &[u32],
    seconds: Option<&[u32]>,
) -> std::io::Result<()> {
    let (n_r, n_s) = (header.rows.len(), header.schools.len());
    if meters.len() != n_r * n_s || seconds.is_some_and(|s| s.len() != n_r * n_s) {
        return Err(bad("the matrix does not have one value per row and school"));
    }
    write_head(&mut w, header, seconds.is_some(), false)?;
    let mut crc = crc32fast::Hasher::new();
    let mut buf: Vec<u8> = Vec::with_capacity((1 << 20) + 8 * n_s);
    for r in 0..n_r {
        let row = r * n_s..(r + 1) * n_s;
        for v in std::iter::once(&meters[row.clone()]).chain(seconds.map(|s| &s[row])) {
            for x in v {
                buf.extend_from_slice(&x.to_le_bytes());
            }
        }
        if buf.len() >= 1 << 20 || r + 1 == n_r {
            crc.update(&buf);
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&crc.finalize().to_le_bytes())?;
    w.flush()
}

/// The pairs of a partial matrix, row by row (compressed rows), as [`write_sparse`] writes
/// them: row `r`'s pairs are `start[r]..start[r + 1]` of `schools` (indices into the header's
/// schools, strictly ascending within a row), `meters` and `seconds`.
#[derive(Debug, Clone, Copy)]
pub struct SparseRows<'a> {
    /// Where each row's pairs begin, and the end of the last (rows + 1 entries).
    pub start: &'a [usize],
    /// Each pair's school.
    pub schools: &'a [u32],
    /// Each pair's meters, `u32::MAX` for no route.
    pub meters: &'a [u32],
    /// Each pair's seconds, when given.
    pub seconds: Option<&'a [u32]>,
}

/// Write a binary matrix with sparse rows (flag bit 2): only the pairs of `rows`, one row per
/// header row; the header's `seconds` flag is taken from `rows.seconds`.
pub fn write_sparse<W: Write>(
    mut w: W,
    header: &Header,
    rows: SparseRows<'_>,
) -> std::io::Result<()> {
    let (n_r, n_s) = (header.rows.len(), header.schools.len());
    let n = rows.schools.len();
    if rows.start.len() != n_r + 1
        || rows.start.first() != Some(&0)
        || rows.start.last() != Some(&n)
        || rows.start.windows(2).any(|w| w[0] > w[1])
        || rows.meters.len() != n
        || rows.seconds.is_some_and(|s| s.len() != n)
    {
        return Err(bad("the sparse rows do not match the header's rows"));
    }
    for r in 0..n_r {
        let row = &rows.schools[rows.start[r]..rows.start[r + 1]];
        if row.iter().any(|&c| c as usize >= n_s) || row.windows(2).any(|w| w[0] >= w[1]) {
            return Err(bad("a sparse row's schools are not ascending indices of the header's"));
        }
    }
    write_head(&mut w, header, rows.seconds.is_some(), true)?;
    let mut crc = crc32fast::Hasher::new();
    let mut buf: Vec<u8> = Vec::with_capacity((1 << 20) + 12 * n_s + 4);
    for r in 0..n_r {
        let pairs = rows.start[r]..rows.start[r + 1];
        buf.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
        let parts = [Some(&rows.schools[pairs.clone()]), Some(&rows.meters[pairs.clone()])];
        for v in parts.into_iter().chain([rows.seconds.map(|s| &s[pairs.clone()])]).flatten() {
            for x in v {
                buf.extend_from_slice(&x.to_le_bytes());
            }
        }
        if buf.len() >= 1 << 20 || r + 1 == n_r {
            crc.update(&buf);
            w.write_all(&buf)?;
            buf.clear();
        }
    }
    w.write_all(&crc.finalize().to_le_bytes())?;
    w.flush()
}

/// [`write`] to a file, atomically: a temporary file beside it, renamed at the end.
pub fn write_file(
    path: &std::path::Path,
    header: &Header,
    meters: &[u32],
    seconds: Option<&[u32]>,
) -> Result<()> {
    write_atomically(path, |w| write(w, header, meters, seconds))
}

/// [`write_sparse`] to a file, atomically.
pub fn write_sparse_file(
    path: &std::path::Path,
    header: &Header,
    rows: SparseRows<'_>,
) -> Result<()> {
    write_atomically(path, |w| write_sparse(w, header, rows))
}

/// `write` into a temporary file beside `path`, renamed to `path` at the end.
fn write_atomically(
    path: &std::path::Path,
    write: impl FnOnce(std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = std::fs::File::create(&tmp)
        .and_then(|f| write(std::io::BufWriter::with_capacity(1 << 20, f)));
    match result.and_then(|()| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(Error::io(path, e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect {
        header: Header,
        meters: Vec<u32>,
        seconds: Vec<u32>,
        /// Sparse rows: (row, schools, meters, seconds).
        rows: Vec<SparseRow>,
    }
    type SparseRow = (usize, Vec<u32>, Vec<u32>, Option<Vec<u32>>);
    impl RowSink for Collect {
        fn header(&mut self, h: &Header) {
            self.header = h.clone();
        }
        fn row(&mut self, _: usize, m: &[u32], s: Option<&[u32]>) {
            self.meters.extend_from_slice(m);
            self.seconds.extend_from_slice(s.unwrap_or_default());
        }
        fn pairs(&mut self, r: usize, c: &[u32], m: &[u32], s: Option<&[u32]>) {
            self.rows.push((r, c.to_vec(), m.to_vec(), s.map(<[u32]>::to_vec)));
        }
    }

    fn sample() -> (Header, Vec<u32>, Vec<u32>) {
        let h = Header {
            blocks: false,
            seconds: true,
            sparse: false,
            source: "test".into(),
            rows: vec!["1".into(), "2".into(), "x\u{e9}".into()],
            schools: vec!["A".into(), "B".into()],
        };
        (h, vec![1, 2, 3, u32::MAX, 5, 6], vec![10, 20, 30, u32::MAX, 50, 60])
    }

    fn bytes() -> Vec<u8> {
        let (h, m, s) = sample();
        let mut out = Vec::new();
        write(&mut out, &h, &m, Some(&s)).unwrap();
        out
    }

    fn read_err(b: &[u8], len: Option<u64>) -> String {
        match read("m.cmx", b, len, &mut Collect::default()) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("read a damaged file"),
        }
    }

    #[test]
    fn round_trip() {
        let b = bytes();
        let (h, m, s) = sample();
        for len in [None, Some(b.len() as u64)] {
            let mut c = Collect::default();
            assert_eq!(read("m.cmx", &b[..], len, &mut c).unwrap(), h);
            assert_eq!((c.header, c.meters, c.seconds), (h.clone(), m.clone(), s.clone()));
        }
        let mut one_row = Vec::new();
        let h1 = Header { rows: vec!["1".into()], schools: vec![], ..h };
        write(&mut one_row, &h1, &[], None).unwrap();
        assert_eq!(read("m.cmx", &one_row[..], None, &mut Collect::default()).unwrap().rows, ["1"]);
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_refused() {
        let b = bytes();
        for cut in 0..b.len() {
            for len in [None, Some(cut as u64)] {
                let msg = read_err(&b[..cut], len);
                assert!(msg.contains("truncated") || cut < 4, "cut {cut}: {msg}");
            }
        }
        for i in 0..b.len() {
            let mut d = b.clone();
            d[i] ^= 0x10;
            let msg = read_err(&d, None);
            assert!(
                msg.contains("checksum mismatch")
                    || msg.contains("magic")
                    || msg.contains("version")
                    || (i >= 40 && msg.contains("truncated")),
                "byte {i}: {msg}"
            );
        }
        let mut longer = b.clone();
        longer.push(0);
        assert!(read_err(&longer, None).contains("bytes follow the end"));
        assert!(read_err(&longer, Some(longer.len() as u64)).contains("1 bytes follow the end"));
    }

    /// Three rows over two schools: two pairs, none, one (an unreachable pair among them).
    fn sparse_sample() -> (Header, Vec<usize>, Vec<u32>, Vec<u32>, Vec<u32>) {
        let (h, _, _) = sample();
        let h = Header { sparse: true, ..h };
        (h, vec![0, 2, 2, 3], vec![0, 1, 1], vec![7, u32::MAX, 9], vec![70, u32::MAX, 90])
    }

    fn sparse_bytes() -> Vec<u8> {
        let (h, start, c, m, t) = sparse_sample();
        let rows = SparseRows { start: &start, schools: &c, meters: &m, seconds: Some(&t) };
        let mut out = Vec::new();
        write_sparse(&mut out, &h, rows).unwrap();
        out
    }

    /// A sparse file with these rows (schools, meters), written as given (broken rows too),
    /// its checksums right.
    fn raw_sparse(rows: &[(Vec<u32>, Vec<u32>)], n_rows: usize) -> Vec<u8> {
        let h = Header {
            sparse: true,
            rows: (0..n_rows).map(|r| r.to_string()).collect(),
            schools: vec!["A".into(), "B".into(), "C".into()],
            ..Header::default()
        };
        let mut out = Vec::new();
        write_head(&mut out, &h, false, true).unwrap();
        let mut body = Vec::new();
        for (c, m) in rows {
            body.extend_from_slice(&(c.len() as u32).to_le_bytes());
            for x in c.iter().chain(m) {
                body.extend_from_slice(&x.to_le_bytes());
            }
        }
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out
    }

    #[test]
    fn sparse_round_trip() {
        let b = sparse_bytes();
        assert_eq!(u32_at(&b, 12), FLAG_SECONDS | FLAG_SPARSE);
        // Header, ids, then rows of 4 + 12 n bytes and the checksum.
        let ids = u64::from_le_bytes(b[24..32].try_into().unwrap()) as usize;
        assert_eq!(b.len(), HEADER_LEN + ids + (4 + 24) + 4 + (4 + 12) + 4);
        let (h, start, c, m, t) = sparse_sample();
        for len in [None, Some(b.len() as u64)] {
            let mut got = Collect::default();
            assert_eq!(read("m.cmx", &b[..], len, &mut got).unwrap(), h);
            assert!(got.meters.is_empty());
            let want: Vec<SparseRow> = (0..3)
                .map(|r| {
                    let p = start[r]..start[r + 1];
                    (r, c[p.clone()].to_vec(), m[p.clone()].to_vec(), Some(t[p].to_vec()))
                })
                .collect();
            assert_eq!(got.rows, want);
        }
        // Without seconds: n u32 schools and n u32 meters a row.
        let rows = SparseRows { start: &start, schools: &c, meters: &m, seconds: None };
        let mut out = Vec::new();
        write_sparse(&mut out, &h, rows).unwrap();
        let mut got = Collect::default();
        assert!(!read("m.cmx", &out[..], None, &mut got).unwrap().seconds);
        assert_eq!(got.rows[0], (0, vec![0, 1], vec![7, u32::MAX], None));
        // The writer refuses rows the format cannot hold.
        let unsorted = SparseRows { start: &start, schools: &[1, 0, 1], meters: &m, seconds: None };
        assert!(write_sparse(Vec::new(), &h, unsorted).is_err());
        let out_of_range =
            SparseRows { start: &start, schools: &[0, 2, 1], meters: &m, seconds: None };
        assert!(write_sparse(Vec::new(), &h, out_of_range).is_err());
    }

    #[test]
    fn sparse_every_truncation_and_every_flipped_byte_is_refused() {
        let b = sparse_bytes();
        for cut in 0..b.len() {
            for len in [None, Some(cut as u64)] {
                let msg = read_err(&b[..cut], len);
                assert!(msg.contains("truncated") || cut < 4, "cut {cut}: {msg}");
            }
        }
        for i in 0..b.len() {
            for len in [None, Some(b.len() as u64)] {
                let mut d = b.clone();
                d[i] ^= 0x10;
                let msg = read_err(&d, len);
                assert!(
                    msg.contains("checksum mismatch")
                        || msg.contains("magic")
                        || msg.contains("version")
                        || (i >= 40 && msg.contains("truncated")),
                    "byte {i}: {msg}"
                );
            }
        }
        let mut longer = b.clone();
        longer.extend_from_slice(b"xyz");
        assert!(read_err(&longer, None).contains("bytes follow the end"));
        assert!(read_err(&longer, Some(longer.len() as u64)).contains("3 bytes follow the end"));
    }

    #[test]
    fn sparse_rows_that_break_the_rules_are_refused_for_it() {
        let ok = raw_sparse(&[(vec![0, 2], vec![5, 6]), (vec![], vec![])], 2);
        assert!(read("m.cmx", &ok[..], None, &mut Collect::default()).is_ok());
        type Rows<'a> = &'a [(Vec<u32>, Vec<u32>)];
        let cases: [(Rows<'_>, usize, &str); 5] = [
            (&[(vec![0, 3], vec![5, 6]), (vec![], vec![])], 2, "school index 3, out of range"),
            (&[(vec![2, 0], vec![5, 6]), (vec![], vec![])], 2, "out of order (0 after 2)"),
            (&[(vec![1, 1], vec![5, 6]), (vec![], vec![])], 2, "strictly ascending"),
            (&[(vec![0, 1, 2, 0], vec![1, 2, 3, 4])], 1, "announces 4 pairs, more than its 3"),
            (&[(vec![0], vec![1]), (vec![1], vec![2])], 1, "after its last row"),
        ];
        for (rows, n, want) in cases {
            let b = raw_sparse(rows, n);
            for len in [None, Some(b.len() as u64)] {
                let msg = read_err(&b, len);
                assert!(msg.contains(want), "{want}: {msg}");
                assert!(msg.contains("m.cmx"), "{msg}");
            }
        }
        // Too few rows for the header: truncated.
        let b = raw_sparse(&[(vec![0], vec![1])], 3);
        for len in [None, Some(b.len() as u64)] {
            assert!(read_err(&b, len).contains("truncated"), "{}", read_err(&b, len));
        }
        // The same breaks in a damaged file: its checksum speaks.
        let mut b = raw_sparse(&[(vec![0, 3], vec![5, 6]), (vec![], vec![])], 2);
        let n = b.len();
        b[n - 5] ^= 1;
        assert!(read_err(&b, Some(n as u64)).contains("checksum mismatch"));
        // A TOO_LARGE value, as in a dense file.
        let b = raw_sparse(&[(vec![1], vec![TOO_LARGE])], 1);
        assert!(read_err(&b, None).contains("meters from '0' to 'B' is too large"));
        // An unknown flag bit is refused, whatever the other bits.
        let mut b = sparse_bytes();
        b[12] |= 8;
        let crc = crc32fast::hash(&b[..36]);
        b[36..40].copy_from_slice(&crc.to_le_bytes());
        assert!(read_err(&b, None).contains("unknown flags 0xe"), "{}", read_err(&b, None));
    }

    #[test]
    fn detects_by_content() {
        assert_eq!(detect("m", b"pupil_id").unwrap(), Format::Csv);
        assert_eq!(detect("m", b"").unwrap(), Format::Csv);
        assert_eq!(detect("m", &MAGIC).unwrap(), Format::Binary);
        assert!(detect("m", b"\x89CMX\n\x1a\n\0").unwrap_err().to_string().contains("line ends"));
        assert!(detect("m", b"\x89PNG\r\n\x1a\n").unwrap_err().to_string().contains("magic"));
        assert!(detect("m", b"\x89CMX\r").unwrap_err().to_string().contains("truncated"));
        assert!(detect("m", b"XCMX\r\n\x1a\n").unwrap_err().to_string().contains("magic"));
        assert_eq!(detect("m", b"\xef\xbb\xbfa,b\r\n1").unwrap(), Format::Csv);
    }
}
