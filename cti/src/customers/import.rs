//! CSV import of customers or of their transactions.
//!
//! # Contract
//!
//! - The header row names the file's kind and its column order: a customer
//!   file has `account,name,phones[,email][,tier][,language]`, a transaction
//!   file `account,kind,reference,amount_minor,currency,status,created[,updated]`,
//!   in any order. Unknown, repeated or missing columns refuse the whole file.
//! - Every other row is validated alone; a bad row is reported with its line
//!   and reason and the rest go on. All good rows are written in one
//!   database transaction, in file order: either all of them or none.
//! - Idempotent on account number: a customer row whose account is stored
//!   replaces that customer's values; a transaction row whose account, kind
//!   and reference are stored updates that transaction. A second row for the
//!   same account (or transaction) in one file is rejected.
//! - The whole input is read into memory before the database is touched.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use super::csv::{self, Record};
use super::rows::{self, IdGen, OnExisting, Saved, ValidCustomer, ValidTransaction};
use super::{
    AccountNumber, CustomerError, Customers, Language, Money, NewCustomer, NewTransaction,
    PhonePlan,
};

/// Columns of a customer file: name and whether it is required.
const CUSTOMER_COLUMNS: &[(&str, bool)] = &[
    ("account", true),
    ("name", true),
    ("phones", true),
    ("email", false),
    ("tier", false),
    ("language", false),
];

/// Columns of a transaction file: name and whether it is required.
const TRANSACTION_COLUMNS: &[(&str, bool)] = &[
    ("account", true),
    ("kind", true),
    ("reference", true),
    ("amount_minor", true),
    ("currency", true),
    ("status", true),
    ("created", true),
    ("updated", false),
];

/// Which kind of file was imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportKind {
    /// One row per customer.
    Customers,
    /// One row per order or payment.
    Transactions,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Which kind of file it was.
    pub kind: ImportKind,
    /// Rows written (created or updated).
    pub imported: usize,
    /// Of those, rows that updated a stored customer or transaction.
    pub updated: usize,
    /// Rows not written, in line order.
    pub rejected: Vec<RejectedRow>,
}

/// A row the import did not write, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// 1-based line the row starts on (the header is line 1).
    pub line: usize,
    /// Why it was rejected; never quotes the row's values.
    pub reason: String,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ImportKind::Customers => "customers",
            ImportKind::Transactions => "transactions",
        };
        write!(
            f,
            "imported {} {what} ({} updated), rejected {}",
            self.imported,
            self.updated,
            self.rejected.len()
        )?;
        for r in &self.rejected {
            write!(f, "\n  line {}: {}", r.line, r.reason)?;
        }
        Ok(())
    }
}

impl ImportReport {
    fn reject(&mut self, line: usize, reason: impl Into<String>) {
        self.rejected.push(RejectedRow {
            line,
            reason: reason.into(),
        });
    }
}

/// The header row: the file's kind and where each column is.
struct Header {
    kind: ImportKind,
    width: usize,
    columns: HashMap<&'static str, usize>,
}

impl Header {
    fn parse(record: &Record) -> Result<Self, CustomerError> {
        let fail = |reason: String| CustomerError::CsvHeader {
            line: record.line,
            reason,
        };
        let names: Vec<String> = match &record.fields {
            Ok(fields) => fields
                .iter()
                .map(|f| f.trim().to_ascii_lowercase())
                .collect(),
            Err(reason) => return Err(fail(format!("malformed header: {reason}"))),
        };
        let has = |n: &str| names.iter().any(|x| x == n);
        let (kind, known) = if has("name") || has("phones") {
            (ImportKind::Customers, CUSTOMER_COLUMNS)
        } else if has("reference") || has("kind") {
            (ImportKind::Transactions, TRANSACTION_COLUMNS)
        } else {
            return Err(fail(
                "a header row is required: account,name,phones,… for customers \
                 or account,kind,reference,… for transactions"
                    .to_owned(),
            ));
        };
        let mut columns = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            let Some(&(known_name, _)) = known.iter().find(|(k, _)| k == name) else {
                return Err(fail(format!("unknown column {name:?}")));
            };
            if columns.insert(known_name, i).is_some() {
                return Err(fail(format!("column {name:?} appears twice")));
            }
        }
        if let Some((missing, _)) = known
            .iter()
            .find(|(n, req)| *req && !columns.contains_key(n))
        {
            return Err(fail(format!("missing column {missing:?}")));
        }
        Ok(Self {
            kind,
            width: names.len(),
            columns,
        })
    }

    /// The row's fields, or why it cannot be read at all.
    fn fields<'r>(&self, record: &'r Record) -> Result<&'r [String], String> {
        let fields = record
            .fields
            .as_ref()
            .map_err(|reason| format!("malformed CSV: {reason}"))?;
        if fields.len() != self.width {
            return Err(format!(
                "expected {} fields, found {}",
                self.width,
                fields.len()
            ));
        }
        Ok(fields)
    }

    /// The trimmed value of column `name`; empty when the column is absent.
    fn get<'r>(&self, fields: &'r [String], name: &str) -> &'r str {
        self.columns
            .get(name)
            .and_then(|&i| fields.get(i))
            .map_or("", |f| f.trim())
    }

    fn customer(&self, record: &Record, plan: &PhonePlan) -> Result<ValidCustomer, String> {
        let fields = self.fields(record)?;
        let get = |name| self.get(fields, name);
        let new = NewCustomer {
            name: get("name").to_owned(),
            phones: get("phones")
                .split(';')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            email: Some(get("email").to_owned()),
            account: get("account").to_owned(),
            tier: or_default(get("tier"))?,
            language: or_default::<Language>(get("language"))?,
        };
        ValidCustomer::new(&new, plan).map_err(|e| e.to_string())
    }

    fn transaction(&self, record: &Record) -> Result<(AccountNumber, ValidTransaction), String> {
        let fields = self.fields(record)?;
        let get = |name| self.get(fields, name);
        let account = AccountNumber::parse(get("account")).map_err(|e| e.to_string())?;
        let minor = get("amount_minor").parse::<i64>().map_err(|_| {
            "invalid amount_minor: expected a whole number of minor units, such as 1999 for 19.99"
                .to_owned()
        })?;
        let created = parse_date(get("created"))
            .ok_or("invalid created: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")?;
        let updated = match get("updated") {
            "" => created,
            text => parse_date(text)
                .ok_or("invalid updated: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ")?,
        };
        let new = NewTransaction {
            kind: get("kind")
                .parse()
                .map_err(|e: CustomerError| e.to_string())?,
            reference: get("reference").to_owned(),
            amount: Money {
                minor,
                currency: get("currency")
                    .parse()
                    .map_err(|e: CustomerError| e.to_string())?,
            },
            status: get("status")
                .parse()
                .map_err(|e: CustomerError| e.to_string())?,
            created_at: created,
            updated_at: updated,
        };
        let valid = ValidTransaction::new(&new).map_err(|e| e.to_string())?;
        Ok((account, valid))
    }
}

/// Parses `text`, or gives the type's default when it is empty.
fn or_default<T: std::str::FromStr<Err = CustomerError> + Default>(
    text: &str,
) -> Result<T, String> {
    if text.is_empty() {
        Ok(T::default())
    } else {
        text.parse().map_err(|e: CustomerError| e.to_string())
    }
}

impl Customers {
    /// Imports a customer file or a transaction file (the header row says
    /// which; see `docs/customers.md` for the format). Bad rows are reported
    /// in the result; good rows are written in one database transaction.
    ///
    /// The input is read to its end before anything is written: give it a
    /// file or a buffer, not a socket.
    ///
    /// # Errors
    ///
    /// [`CustomerError::Read`] when the input cannot be read,
    /// [`CustomerError::CsvHeader`] when it has no usable header (nothing is
    /// written), [`CustomerError::WrongKey`], [`CustomerError::Store`].
    pub async fn import_csv(&self, mut reader: impl Read) -> Result<ImportReport, CustomerError> {
        let mut bytes = Vec::new();
        reader
            .read_to_end(&mut bytes)
            .map_err(CustomerError::Read)?;
        let mut records = csv::records(&bytes).into_iter();
        let Some(first) = records.next() else {
            return Err(CustomerError::CsvHeader {
                line: 1,
                reason: "the input is empty: a header row is required".to_owned(),
            });
        };
        let header = Header::parse(&first)?;
        let mut report = ImportReport {
            kind: header.kind,
            imported: 0,
            updated: 0,
            rejected: Vec::new(),
        };
        match header.kind {
            ImportKind::Customers => self.import_customers(&header, records, &mut report).await?,
            ImportKind::Transactions => {
                self.import_transactions(&header, records, &mut report)
                    .await?;
            }
        }
        report.rejected.sort_by_key(|r| r.line);
        tracing::info!(
            imported = report.imported,
            updated = report.updated,
            rejected = report.rejected.len(),
            "customer import finished"
        );
        Ok(report)
    }

    async fn import_customers(
        &self,
        header: &Header,
        records: impl Iterator<Item = Record>,
        report: &mut ImportReport,
    ) -> Result<(), CustomerError> {
        let mut first_line: HashMap<AccountNumber, usize> = HashMap::new();
        let mut good = Vec::new();
        for record in records {
            match header.customer(&record, &self.plan) {
                Err(reason) => report.reject(record.line, reason),
                Ok(c) => match first_line.get(&c.account) {
                    Some(first) => report.reject(
                        record.line,
                        format!("the account number already appears on line {first}"),
                    ),
                    None => {
                        first_line.insert(c.account.clone(), record.line);
                        good.push((record.line, c));
                    }
                },
            }
        }
        let mut tx = self.store.pool().begin().await?;
        rows::ensure_key(&mut tx, &self.keys).await?;
        let mut ids = IdGen::from_os();
        for (line, c) in &good {
            match rows::save_customer(&mut tx, &self.keys, &mut ids, c, OnExisting::Update).await {
                Ok(Saved::Created(_)) => report.imported += 1,
                Ok(Saved::Updated(_)) => {
                    report.imported += 1;
                    report.updated += 1;
                }
                Ok(Saved::Skipped(_)) => {}
                Err(e @ CustomerError::PhoneTaken(_)) => report.reject(*line, e.to_string()),
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn import_transactions(
        &self,
        header: &Header,
        records: impl Iterator<Item = Record>,
        report: &mut ImportReport,
    ) -> Result<(), CustomerError> {
        let mut first_line: HashMap<(AccountNumber, &'static str, String), usize> = HashMap::new();
        let mut good = Vec::new();
        for record in records {
            match header.transaction(&record) {
                Err(reason) => report.reject(record.line, reason),
                Ok((account, t)) => {
                    let key = (account.clone(), t.kind().as_str(), t.reference().to_owned());
                    if let Some(first) = first_line.get(&key) {
                        let reason = format!("the transaction already appears on line {first}");
                        report.reject(record.line, reason);
                    } else {
                        first_line.insert(key, record.line);
                        good.push((record.line, account, t));
                    }
                }
            }
        }
        let mut tx = self.store.pool().begin().await?;
        rows::ensure_key(&mut tx, &self.keys).await?;
        let mut ids = IdGen::from_os();
        for (line, account, t) in &good {
            let index = rows::account_index(&self.keys, account);
            let Some(customer) = rows::account_owner(&mut tx, &index).await? else {
                report.reject(*line, "no customer has this account number");
                continue;
            };
            let (_, updated) =
                rows::save_transaction(&mut tx, &self.keys, &mut ids, customer, t).await?;
            report.imported += 1;
            report.updated += usize::from(updated);
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Reads `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ` as unix
/// seconds. Years 1900–9999.
fn parse_date(text: &str) -> Option<i64> {
    if !text.is_ascii() {
        return None;
    }
    let (date, time) = match text.len() {
        10 => (text, None),
        20 if text.as_bytes()[10] == b'T' && text.ends_with('Z') => {
            (&text[..10], Some(&text[11..19]))
        }
        _ => return None,
    };
    let [y, m, d] = split_numbers(date, '-', [4, 2, 2])?;
    let seconds = match time {
        Some(time) => {
            let [h, mi, s] = split_numbers(time, ':', [2, 2, 2])?;
            if h > 23 || mi > 59 || s > 59 {
                return None;
            }
            h * 3600 + mi * 60 + s
        }
        None => 0,
    };
    if !(1900..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + seconds)
}

/// Splits `text` at `sep` into three all-digit parts of the given widths.
fn split_numbers(text: &str, sep: char, widths: [usize; 3]) -> Option<[i64; 3]> {
    let mut parts = text.split(sep);
    let mut out = [0i64; 3];
    for (slot, width) in out.iter_mut().zip(widths) {
        let part = parts.next()?;
        if part.len() != width || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (m + 9) % 12; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_date;

    #[test]
    fn dates_read_as_unix_seconds() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2025-01-06"), Some(1_736_121_600));
        assert_eq!(parse_date("2024-02-29T12:30:05Z"), Some(1_709_209_805));
        assert_eq!(parse_date("2000-03-01"), Some(951_868_800));
        for bad in [
            "2023-02-29",
            "2025-13-01",
            "2025-1-01",
            "25-01-01",
            "2025-01-06T24:00:00Z",
            "2025-01-06 10:00:00",
            "",
            "２０２５-01-01",
        ] {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }
}
