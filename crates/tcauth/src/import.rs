//! `tcauth user import FILE.csv`: check every row, then insert in all-or-nothing batches.
//!
//! The file is read into memory once (at most 100 MiB) and parsed twice: the first pass checks
//! every row and keeps only a flag per row and the phone numbers seen; the second builds the
//! good rows again and inserts them. So memory stays near the file's size even for a million
//! users.

use crate::errors::{store_error, usage};
use crate::output::{now, print_json};
use crate::store::Context;
use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use tcauth_core::model::{Address, User};
use tcauth_core::validate::{new_sub, NewUser};
use tcauth_store::Store;

/// Largest file accepted.
pub const MAX_FILE: u64 = 100 * 1024 * 1024;
/// Most data rows accepted.
pub const MAX_ROWS: usize = 1_000_000;
/// Longest field accepted, in bytes.
pub const MAX_FIELD: usize = 2048;
/// Users per all-or-nothing insert.
pub const BATCH: usize = 500;
/// Most row errors listed; the rest are counted.
const MAX_LISTED: usize = 100;

/// The columns a file may have, in the order [`Row`] keeps them.
const COLUMNS: [&str; 11] = [
    "phone_number",
    "given_name",
    "family_name",
    "email",
    "picture",
    "gender",
    "street_address",
    "locality",
    "region",
    "postal_code",
    "country",
];

type Row = [Option<String>; 11];

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// CSV file with a header row
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
    /// Import the valid rows and skip (and list) the invalid ones
    #[arg(long)]
    pub skip_invalid: bool,
    /// Print {"imported","skipped","error_count","errors"} as JSON; no progress bar
    #[arg(long)]
    pub json: bool,
}

/// Row errors: the first [`MAX_LISTED`] as text, and how many there were.
#[derive(Debug, Default)]
struct Problems {
    listed: Vec<String>,
    count: usize,
}

impl Problems {
    fn add(&mut self, line: u64, message: impl std::fmt::Display) {
        self.count += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(format!("line {line}: {message}"));
        }
    }

    fn print(&self) {
        for p in &self.listed {
            eprintln!("{p}");
        }
        if self.count > self.listed.len() {
            eprintln!("and {} more", self.count - self.listed.len());
        }
    }
}

pub async fn run(ctx: &Context, args: ImportArgs) -> Result<()> {
    let shown = args.file.display().to_string();
    let data = read_limited(&args.file)?;
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&data);
    let progress = !args.json && std::io::stderr().is_terminal();
    let store = ctx.open().await?;
    let file = CsvFile {
        shown: &shown,
        data,
        columns: header(data, &shown)?,
    };

    let (good, problems) = check(store.as_ref(), &file, progress).await?;
    if problems.count > 0 && !args.skip_invalid {
        if args.json {
            print_json(&summary(0, &problems, 0))?;
        } else {
            problems.print();
        }
        return Err(anyhow!(
            "{} invalid row{} in {shown}; nothing was imported. Fix them, or pass \
             --skip-invalid to import only the valid rows",
            problems.count,
            if problems.count == 1 { "" } else { "s" }
        ));
    }
    let imported = insert_good(store.as_ref(), &file, &good, progress).await?;

    if args.json {
        return print_json(&summary(imported, &problems, problems.count));
    }
    problems.print();
    println!(
        "imported {imported} user{}, skipped {} invalid row{}",
        if imported == 1 { "" } else { "s" },
        problems.count,
        if problems.count == 1 { "" } else { "s" }
    );
    Ok(())
}

/// The file in memory, and the index in [`COLUMNS`] of each of its columns.
struct CsvFile<'a> {
    shown: &'a str,
    data: &'a [u8],
    columns: Vec<usize>,
}

impl CsvFile<'_> {
    /// A reader positioned after the header.
    fn rows(&self) -> Result<csv::Reader<&[u8]>> {
        let mut reader = csv_reader(self.data);
        reader.read_byte_record(&mut csv::ByteRecord::new())?;
        Ok(reader)
    }
}

fn header(data: &[u8], shown: &str) -> Result<Vec<usize>> {
    let mut rec = csv::ByteRecord::new();
    if !csv_reader(data).read_byte_record(&mut rec)? {
        return Err(usage(format!(
            "{shown} is empty; its first line must name the columns, e.g. phone_number,given_name"
        )));
    }
    parse_header(&rec).map_err(|m| usage(format!("{shown} line 1: {m}")))
}

/// Pass 1: checks every row. Returns a flag per row (true: good) and the problems.
async fn check(
    store: &dyn Store,
    file: &CsvFile<'_>,
    progress: bool,
) -> Result<(Vec<bool>, Problems)> {
    let template = "checking  [{bar:40}] {bytes}/{total_bytes}";
    let bar = progress_bar(progress, file.data.len() as u64, template);
    let mut good: Vec<bool> = Vec::new();
    let mut seen: HashMap<u64, u64> = HashMap::new();
    let mut problems = Problems::default();
    let now = now();
    let mut reader = file.rows()?;
    let mut rec = csv::ByteRecord::new();
    while reader.read_byte_record(&mut rec)? {
        if good.len() == MAX_ROWS {
            return Err(usage(format!(
                "{} has more than {MAX_ROWS} rows; split it into smaller files",
                file.shown
            )));
        }
        let line = line_of(&rec);
        bar.set_position(rec.position().map_or(0, |p| p.byte()));
        let user = match check_row(&file.columns, &rec, now) {
            Ok(user) => user,
            Err(m) => {
                problems.add(line, m);
                good.push(false);
                continue;
            }
        };
        let e164 = &user.phone_e164;
        let key = phone_key(e164);
        if let Some(first) = key.and_then(|k| seen.get(&k).copied()) {
            problems.add(
                line,
                format!("phone_number: {e164} is also on line {first}"),
            );
            good.push(false);
            continue;
        }
        if let Some(k) = key {
            seen.insert(k, line);
        }
        match store.get_user_by_phone(e164).await {
            Ok(None) => good.push(true),
            Ok(Some(u)) => {
                let m = format!(
                    "phone_number: {e164} is already registered to user {}",
                    u.sub
                );
                problems.add(line, m);
                good.push(false);
            }
            Err(e) => return Err(store_error(e).context("cannot check phone numbers")),
        }
    }
    bar.finish_and_clear();
    Ok((good, problems))
}

/// Pass 2: builds the good rows again and inserts them in batches. Returns how many.
async fn insert_good(
    store: &dyn Store,
    file: &CsvFile<'_>,
    good: &[bool],
    progress: bool,
) -> Result<usize> {
    let total = good.iter().filter(|g| **g).count();
    let bar = progress_bar(
        progress,
        total as u64,
        "importing [{bar:40}] {pos}/{len} users",
    );
    let mut reader = file.rows()?;
    let mut rec = csv::ByteRecord::new();
    let mut batch: Vec<User> = Vec::with_capacity(BATCH);
    let mut batch_line = 0;
    let mut imported = 0;
    let created_at = now();
    let mut index = 0;
    while reader.read_byte_record(&mut rec)? {
        let keep = good.get(index).copied().unwrap_or(false);
        index += 1;
        if !keep {
            continue;
        }
        if batch.is_empty() {
            batch_line = line_of(&rec);
        }
        let line = line_of(&rec);
        let user = row_fields(&file.columns, &rec)
            .map(new_user)
            .and_then(|u| u.validate(new_sub(), created_at).map_err(|e| e.to_string()))
            .map_err(|m| anyhow!("{} line {line}: {m}", file.shown))?;
        batch.push(user);
        if batch.len() == BATCH {
            imported += insert(store, &mut batch, batch_line, imported).await?;
            bar.set_position(imported as u64);
        }
    }
    if !batch.is_empty() {
        imported += insert(store, &mut batch, batch_line, imported).await?;
    }
    bar.finish_and_clear();
    Ok(imported)
}

fn summary(imported: usize, problems: &Problems, skipped: usize) -> serde_json::Value {
    serde_json::json!({
        "imported": imported,
        "skipped": skipped,
        "error_count": problems.count,
        "errors": problems.listed,
    })
}

async fn insert(
    store: &dyn Store,
    batch: &mut Vec<User>,
    first_line: u64,
    before: usize,
) -> Result<usize> {
    store.import_users(batch).await.map_err(|e| {
        store_error(e).context(format!(
            "imported {before} users, then the batch starting at line {first_line} failed and \
             was rolled back; run the import again with --skip-invalid to import the rest"
        ))
    })?;
    let n = batch.len();
    batch.clear();
    Ok(n)
}

fn read_limited(path: &std::path::Path) -> Result<Vec<u8>> {
    let shown = path.display();
    let too_big = || {
        usage(format!(
            "{shown} is larger than 100 MiB; split it into smaller files"
        ))
    };
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {shown}"))?;
    if file.metadata().is_ok_and(|m| m.len() > MAX_FILE) {
        return Err(too_big());
    }
    let mut data = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read {shown}"))?;
    if data.len() as u64 > MAX_FILE {
        return Err(too_big());
    }
    Ok(data)
}

fn csv_reader(data: &[u8]) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(data)
}

fn progress_bar(visible: bool, len: u64, template: &str) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn line_of(rec: &csv::ByteRecord) -> u64 {
    rec.position().map_or(0, |p| p.line())
}

/// Maps each of the file's columns to its index in [`COLUMNS`].
fn parse_header(rec: &csv::ByteRecord) -> Result<Vec<usize>, String> {
    let mut columns = Vec::with_capacity(rec.len());
    for field in rec {
        let name = String::from_utf8_lossy(field).trim().to_ascii_lowercase();
        let Some(i) = COLUMNS.iter().position(|c| *c == name) else {
            let shown: String = name.chars().take(64).collect();
            return Err(format!(
                "unknown column {shown:?}; the columns are {}",
                COLUMNS.join(", ")
            ));
        };
        if columns.contains(&i) {
            return Err(format!("column {name:?} appears twice"));
        }
        columns.push(i);
    }
    if !columns.contains(&0) {
        return Err("the phone_number column is missing".into());
    }
    Ok(columns)
}

/// The row's fields by [`COLUMNS`] index; empty fields are absent.
fn row_fields(columns: &[usize], rec: &csv::ByteRecord) -> Result<Row, String> {
    if rec.len() != columns.len() {
        return Err(format!(
            "has {} fields but the header names {}",
            rec.len(),
            columns.len()
        ));
    }
    let mut row: Row = Default::default();
    for (&c, field) in columns.iter().zip(rec) {
        let name = COLUMNS[c];
        if field.len() > MAX_FIELD {
            return Err(format!("{name}: longer than {MAX_FIELD} bytes"));
        }
        let text = std::str::from_utf8(field).map_err(|_| format!("{name}: not valid UTF-8"))?;
        if !text.trim().is_empty() {
            row[c] = Some(text.to_string());
        }
    }
    Ok(row)
}

fn new_user(row: Row) -> NewUser {
    let [phone, given, family, email, picture, gender, street, locality, region, postal, country] =
        row;
    let address = Address {
        street_address: street,
        locality,
        region,
        postal_code: postal,
        country,
    };
    NewUser {
        phone_number: phone.unwrap_or_default(),
        given_name: given,
        family_name: family,
        email,
        picture,
        gender,
        address: (!address.is_empty()).then_some(address),
    }
}

/// Validates one row; the error reads `<column>: <message>`.
fn check_row(columns: &[usize], rec: &csv::ByteRecord, now: i64) -> Result<User, String> {
    let row = row_fields(columns, rec)?;
    new_user(row).validate(1, now).map_err(|e| {
        let field = e.field.strip_prefix("address.").unwrap_or(&e.field);
        format!("{field}: {}", e.message)
    })
}

/// An E.164 number as an exact integer key (at most 15 digits), to remember a million numbers
/// cheaply. `None` only for a malformed number, which the store's uniqueness rule still catches.
fn phone_key(e164: &str) -> Option<u64> {
    e164.strip_prefix('+')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &[&str]) -> csv::ByteRecord {
        csv::ByteRecord::from(fields.to_vec())
    }

    #[test]
    fn header() {
        let cols = parse_header(&record(&["Given_Name", " PHONE_NUMBER "])).unwrap();
        assert_eq!(cols, [1, 0]);
        let e = parse_header(&record(&["phone_number", "nickname"])).unwrap_err();
        assert!(e.contains("\"nickname\""), "{e}");
        assert!(parse_header(&record(&["given_name"]))
            .unwrap_err()
            .contains("phone_number"));
        assert!(parse_header(&record(&["phone_number", "phone_number"])).is_err());
    }

    #[test]
    fn rows() {
        let cols = parse_header(&record(&["phone_number", "locality", "email"])).unwrap();
        let u = check_row(&cols, &record(&["+919876543210", "Pune", ""]), 5).unwrap();
        assert_eq!(u.address.unwrap().locality.as_deref(), Some("Pune"));
        assert_eq!(u.email, None);
        let e = check_row(&cols, &record(&["12", "", ""]), 5).unwrap_err();
        assert!(e.starts_with("phone_number: "), "{e}");
        let e = check_row(&cols, &record(&["+919876543210"]), 5).unwrap_err();
        assert!(e.contains("has 1 fields"), "{e}");
        let long = "x".repeat(MAX_FIELD + 1);
        let e = check_row(&cols, &record(&["+919876543210", &long, ""]), 5).unwrap_err();
        assert!(e.starts_with("locality: longer"), "{e}");
    }

    #[test]
    fn phone_keys() {
        assert_eq!(phone_key("+919876543210"), Some(919_876_543_210));
        assert_eq!(phone_key("919876543210"), None);
    }
}
