//! The limits of every input, in one place. Each is far above what a city's schools, pupils,
//! blocks or walking matrix needs, and low enough that a malformed or hostile file is refused at
//! once — with a message naming the file, the line and the limit — instead of holding the CPU or
//! memory. Every check is linear in the input. The user guide lists them (input formats,
//! "Limits"); `tests/input_errors.rs` runs one file over each.

use crate::error::{Error, InputProblem};
use std::io::Read;
use std::path::Path;

/// The largest input file read (bytes): 16 GiB, far above a 50,000 x 400 matrix (0.5 GB).
pub const MAX_INPUT_BYTES: u64 = 16 << 30;
/// The longest line of a text input (bytes, without the line break): 1 MiB.
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// The most columns an input table may have.
pub const MAX_COLUMNS: usize = 1_000;
/// The most data rows of a table (schools, pupils, blocks, districts; features of a GeoJSON
/// file, items of a request).
pub const MAX_ROWS: usize = 10_000_000;
/// The longest id (of a school, pupil or block), in bytes.
pub const MAX_ID_BYTES: usize = 256;
/// The most cells of a walking matrix: rows (pupils, or blocks for the city's block matrix) x
/// schools; also the most data rows of a matrix file. 250 million cells hold 1 GB of meters.
pub const MAX_MATRIX_CELLS: u64 = 250_000_000;

/// A number with thousands separators, for messages: `10,000,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The message of a line longer than [`MAX_LINE_BYTES`].
pub fn line_too_long(file: &str, line: u64) -> InputProblem {
    InputProblem::new(
        file,
        Some(line),
        None,
        format!(
            "the line is longer than {} MiB, the most a line may be: nothing more is read (is this \
             the right file?)",
            MAX_LINE_BYTES >> 20
        ),
    )
}

/// The message of a table with more than [`MAX_ROWS`] rows (`line`: the first row too many).
pub fn too_many_rows(file: &str, line: Option<u64>) -> InputProblem {
    InputProblem::new(
        file,
        line,
        None,
        format!("more than {} rows, the most a table may have", thousands(MAX_ROWS as u64)),
    )
}

/// The message of an id longer than [`MAX_ID_BYTES`].
pub fn id_too_long() -> String {
    format!("is longer than {MAX_ID_BYTES} bytes, the most an id may be")
}

/// A value of a file shown in a message: at most 40 characters, and never one spanning lines
/// (a quote left open pulls the following rows into one field: they are not echoed).
pub fn shown(v: &str) -> String {
    const MAX: usize = 40;
    if v.contains(['\n', '\r']) {
        return "a value spanning lines: is a quote left open?".into();
    }
    match v.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &v[..i]),
        None => v.to_string(),
    }
}

/// The first line of `bytes` longer than [`MAX_LINE_BYTES`] (1-based), if any. Linear.
pub fn long_line(bytes: &[u8]) -> Option<u64> {
    for (line, chunk) in (1..).zip(bytes.split(|&b| b == b'\n')) {
        let len = chunk.len() - usize::from(chunk.last() == Some(&b'\r'));
        if len > MAX_LINE_BYTES {
            return Some(line);
        }
    }
    None
}

/// Refuse what is not a file to read: a device (`/dev/zero`, a disk), a socket or a directory;
/// and a file larger than [`MAX_INPUT_BYTES`]. Pipes pass (their size is checked as they are
/// read).
pub fn check_input_file(path: &Path) -> crate::error::Result<std::fs::Metadata> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let kind = meta.file_type();
    let refuse = |why: String| Err(Error::input(&super::file_name(path), None, None, why));
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() || kind.is_block_device() || kind.is_socket() {
            return refuse(
                "is a device or socket, not a file: give a file (or a pipe) to read".into(),
            );
        }
    }
    if kind.is_dir() {
        return refuse("is a directory, not a file".into());
    }
    if meta.len() > MAX_INPUT_BYTES {
        return refuse(too_large());
    }
    Ok(meta)
}

fn too_large() -> String {
    format!("is larger than {} GiB, the most an input may be", MAX_INPUT_BYTES >> 30)
}

/// Why a [`Limited`] reader stopped.
#[derive(Debug)]
pub enum Exceeded {
    /// A line longer than [`MAX_LINE_BYTES`], at this (1-based) line.
    Line(u64),
    /// More than [`MAX_INPUT_BYTES`] in all.
    Size,
}

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exceeded::Line(l) => write!(f, "line {l} is longer than {MAX_LINE_BYTES} bytes"),
            Exceeded::Size => f.write_str(&too_large()),
        }
    }
}

impl std::error::Error for Exceeded {}

/// A reader that fails (an I/O error carrying [`Exceeded`]) at the first line longer than
/// [`MAX_LINE_BYTES`] or past [`MAX_INPUT_BYTES`]: streamed inputs (matrix files) are bounded
/// like inputs read whole.
pub struct Limited<R> {
    inner: R,
    line: u64,
    run: usize,
    total: u64,
}

impl<R> Limited<R> {
    /// `inner`, bounded.
    pub fn new(inner: R) -> Self {
        Limited { inner, line: 1, run: 0, total: 0 }
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        self.total += n as u64;
        if self.total > MAX_INPUT_BYTES {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, Exceeded::Size));
        }
        match chunk.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                // Every line ended in this chunk: the first continues the previous run.
                let mut start = 0;
                for (i, _) in chunk[..=last].iter().enumerate().filter(|(_, &b)| b == b'\n') {
                    let len = if start == 0 { self.run + i } else { i - start };
                    if len > MAX_LINE_BYTES + 1 {
                        return Err(std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            Exceeded::Line(self.line),
                        ));
                    }
                    self.line += 1;
                    start = i + 1;
                }
                self.run = n - last - 1;
            }
            None => self.run += n,
        }
        if self.run > MAX_LINE_BYTES + 1 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                Exceeded::Line(self.line),
            ));
        }
        Ok(n)
    }
}

/// The input error of a read that a [`Limited`] reader stopped, if it was one.
pub fn exceeded(file: &str, e: &std::io::Error) -> Option<Error> {
    match e.get_ref()?.downcast_ref::<Exceeded>()? {
        Exceeded::Line(line) => Some(Error::Input(vec![line_too_long(file, *line)])),
        Exceeded::Size => Some(Error::input(file, None, None, too_large())),
    }
}

/// [`exceeded`] for a CSV reader's error.
pub fn csv_exceeded(file: &str, e: &csv::Error) -> Option<Error> {
    match e.kind() {
        csv::ErrorKind::Io(io) => exceeded(file, io),
        _ => None,
    }
}

/// Open a file to stream ([`check_input_file`] first), buffered; its parser wraps it in
/// [`Limited`].
pub fn open_input(path: &Path) -> crate::error::Result<std::io::BufReader<std::fs::File>> {
    check_input_file(path)?;
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(std::io::BufReader::with_capacity(1 << 20, file))
}

/// The message of a matrix of more than [`MAX_MATRIX_CELLS`] cells.
pub fn matrix_too_large(file: &str, rows: u64, schools: u64, what: &str) -> Error {
    Error::input(
        file,
        None,
        None,
        format!(
            "{} {what} x {} schools = {} cells: more than {}, the most a walking matrix may have",
            thousands(rows),
            thousands(schools),
            thousands(rows.saturating_mul(schools)),
            thousands(MAX_MATRIX_CELLS)
        ),
    )
}

/// The message of a matrix file with more than [`MAX_MATRIX_CELLS`] rows.
pub fn too_many_matrix_rows(file: &str, line: u64) -> Error {
    Error::input(
        file,
        Some(line),
        None,
        format!("more than {} rows, the most a matrix file may have", thousands(MAX_MATRIX_CELLS)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8], chunk: usize) -> Result<usize, Option<u64>> {
        struct Chunks<'a>(&'a [u8], usize);
        impl Read for Chunks<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut out = Vec::new();
        Limited::new(Chunks(bytes, chunk)).read_to_end(&mut out).map_err(|e| {
            match e.get_ref().and_then(|x| x.downcast_ref::<Exceeded>()) {
                Some(Exceeded::Line(l)) => Some(*l),
                _ => None,
            }
        })
    }

    #[test]
    fn lines_at_the_limit_pass_and_longer_ones_are_named() {
        let ok =
            [vec![b'a'; MAX_LINE_BYTES], b"\r\n".to_vec(), vec![b'b'; MAX_LINE_BYTES]].concat();
        let long = [b"x\ny\n".to_vec(), vec![b'c'; MAX_LINE_BYTES + 2], b"\n".to_vec()].concat();
        for chunk in [1, 7, 4096, 1 << 20, usize::MAX] {
            assert!(read_all(&ok, chunk).is_ok(), "chunk {chunk}");
            assert_eq!(read_all(&long, chunk), Err(Some(3)), "chunk {chunk}");
        }
        assert_eq!(long_line(&ok), None);
        assert_eq!(long_line(&long), Some(3));
    }

    #[test]
    fn numbers_with_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(10_000_000), "10,000,000");
        assert_eq!(shown("abc"), "abc");
        assert!(!shown("1\nP0001,S01").contains("P0001"));
        assert!(!shown("1\nP0001,S01").contains("P0001"));
        assert_eq!(shown(&"é".repeat(50)), format!("{}...", "é".repeat(40)));
    }
}
