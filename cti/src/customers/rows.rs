//! Rows of the customer tables: validated values are sealed on the way in,
//! opened and parsed on the way out. Every function runs on a connection or
//! transaction the caller holds, so several of them make one transaction.

use sqlx::Row as _;

use super::keys::{Aad, CustomerKeys};
use super::model::{valid_email, valid_text};
use super::{
    AccountNumber, Customer, CustomerError, CustomerId, IvrFacts, Language, LastOrder, Money,
    NewCustomer, NewTransaction, PhoneNumber, PhonePlan, Tier, Transaction, TransactionId,
    TransactionKind, TransactionStatus,
};
use crate::store::Db;

type Conn = <Db as sqlx::Database>::Connection;

/// Sealed columns, as named in associated data and errors.
pub(super) const ACCOUNT: &str = "customers.account";
pub(super) const NAME: &str = "customers.name";
pub(super) const EMAIL: &str = "customers.email";
pub(super) const PHONE: &str = "customer_phones.phone";
pub(super) const REFERENCE: &str = "customer_transactions.reference";
pub(super) const AMOUNT: &str = "customer_transactions.amount";

/// Most phone numbers one customer may have.
const MAX_PHONES: usize = 8;

/// Fixed text whose blind index tells which key wrote the store.
const KEY_CHECK_TEXT: &str = "switchyard customer store key check";

/// The blind index of a normalised phone number.
pub(super) fn phone_index(keys: &CustomerKeys, phone: &PhoneNumber) -> String {
    keys.blind_index("phone", phone.as_str())
}

/// The blind index of a normalised account number.
pub(super) fn account_index(keys: &CustomerKeys, account: &AccountNumber) -> String {
    keys.blind_index("account", account.as_str())
}

/// SplitMix64: a tiny generator whose output is fixed by its seed forever
/// (demo data, row ids). Not for secrets: nonces come from the OS CSPRNG.
pub(super) struct IdGen(u64);

impl IdGen {
    /// Seeded from the operating system.
    pub(super) fn from_os() -> Self {
        Self(rand::random())
    }

    /// Seeded with `seed`: the same sequence every time.
    pub(super) fn seeded(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 pseudo-random bits.
    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (0 when `bound` is 0 or 1).
    pub(super) fn below(&mut self, bound: u64) -> u64 {
        self.next_u64() % bound.max(1)
    }

    /// [`IdGen::below`] as an `i64` (`bound` up to `i64::MAX`).
    pub(super) fn below_i64(&mut self, bound: i64) -> i64 {
        let bound = u64::try_from(bound).unwrap_or(0);
        i64::try_from(self.below(bound)).unwrap_or(0)
    }

    /// One element of `list`, or `fallback` when it is empty.
    pub(super) fn pick<T: Copy>(&mut self, list: &[T], fallback: T) -> T {
        let at = usize::try_from(self.below(list.len() as u64)).unwrap_or(0);
        list.get(at).copied().unwrap_or(fallback)
    }

    /// A candidate row id in `1..2^53`.
    fn next_id(&mut self) -> i64 {
        // 53 bits always fit in an i64.
        i64::try_from(self.next_u64() >> 11)
            .expect("a 53-bit value fits in i64")
            .max(1)
    }
}

/// A customer whose values passed validation, in normal form.
pub(super) struct ValidCustomer {
    name: String,
    phones: Vec<PhoneNumber>,
    email: Option<String>,
    pub(super) account: AccountNumber,
    tier: Tier,
    language: Language,
}

impl ValidCustomer {
    /// Validates and normalises `c`; duplicate phone numbers collapse.
    pub(super) fn new(c: &NewCustomer, plan: &PhonePlan) -> Result<Self, CustomerError> {
        let name = valid_text("name", &c.name)?;
        let account = AccountNumber::parse(&c.account)?;
        let email = match c.email.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(email) => Some(valid_email(email)?),
        };
        let mut phones: Vec<PhoneNumber> = Vec::with_capacity(c.phones.len());
        for input in &c.phones {
            let phone = PhoneNumber::parse(input, plan)?;
            if !phones.contains(&phone) {
                phones.push(phone);
            }
        }
        if phones.is_empty() {
            return Err(CustomerError::InvalidPhone(
                "at least one phone number is required",
            ));
        }
        if phones.len() > MAX_PHONES {
            return Err(CustomerError::InvalidPhone(
                "at most 8 phone numbers per customer",
            ));
        }
        Ok(Self {
            name,
            phones,
            email,
            account,
            tier: c.tier,
            language: c.language.clone(),
        })
    }
}

/// A transaction whose values passed validation.
pub(super) struct ValidTransaction(NewTransaction);

impl ValidTransaction {
    /// Validates `t`: a reference of 1–200 characters, dates in order.
    pub(super) fn new(t: &NewTransaction) -> Result<Self, CustomerError> {
        let reference = valid_text("reference", &t.reference)?;
        if t.updated_at < t.created_at {
            return Err(CustomerError::InvalidValue {
                field: "updated",
                reason: "it is before the creation date",
            });
        }
        Ok(Self(NewTransaction {
            reference,
            ..t.clone()
        }))
    }

    pub(super) fn kind(&self) -> TransactionKind {
        self.0.kind
    }

    pub(super) fn reference(&self) -> &str {
        &self.0.reference
    }
}

/// What to do when the account number is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnExisting {
    /// Fail with [`CustomerError::DuplicateAccount`].
    Fail,
    /// Replace the stored values.
    Update,
    /// Leave the stored customer as it is.
    Skip,
}

/// What [`save_customer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Saved {
    Created(CustomerId),
    Updated(CustomerId),
    Skipped(CustomerId),
}

impl Saved {
    pub(super) fn id(self) -> CustomerId {
        match self {
            Self::Created(id) | Self::Updated(id) | Self::Skipped(id) => id,
        }
    }
}

/// Refuses a key other than the one that wrote the store.
pub(super) async fn check_key(conn: &mut Conn, keys: &CustomerKeys) -> Result<(), CustomerError> {
    let stored: Option<String> =
        sqlx::query_scalar("SELECT verifier FROM customer_key_check WHERE id = 1")
            .fetch_optional(&mut *conn)
            .await?;
    match stored {
        Some(v) if v != keys.blind_index("key-check", KEY_CHECK_TEXT) => {
            Err(CustomerError::WrongKey)
        }
        _ => Ok(()),
    }
}

/// [`check_key`], recording this key's check value when none is stored.
pub(super) async fn ensure_key(conn: &mut Conn, keys: &CustomerKeys) -> Result<(), CustomerError> {
    check_key(conn, keys).await?;
    sqlx::query(
        "INSERT INTO customer_key_check (id, verifier) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
    )
    .bind(keys.blind_index("key-check", KEY_CHECK_TEXT))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The customer whose account number has blind index `index`.
pub(super) async fn account_owner(
    conn: &mut Conn,
    index: &str,
) -> Result<Option<CustomerId>, sqlx::Error> {
    let id: Option<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE account_index = $1")
        .bind(index)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(id.map(CustomerId))
}

/// The customer one of whose phones has blind index `index`.
pub(super) async fn phone_owner(
    conn: &mut Conn,
    index: &str,
) -> Result<Option<CustomerId>, sqlx::Error> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT customer_id FROM customer_phones WHERE phone_index = $1")
            .bind(index)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(id.map(CustomerId))
}

/// Whether customer `id` is stored.
pub(super) async fn customer_exists(conn: &mut Conn, id: CustomerId) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE id = $1")
        .bind(id.0)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

/// Stores `c`, or treats its stored namesake (same account number) as
/// `on_existing` says. A phone number of another customer is refused.
pub(super) async fn save_customer(
    conn: &mut Conn,
    keys: &CustomerKeys,
    ids: &mut IdGen,
    c: &ValidCustomer,
    on_existing: OnExisting,
) -> Result<Saved, CustomerError> {
    let index = account_index(keys, &c.account);
    let existing = account_owner(conn, &index).await?;
    match (existing, on_existing) {
        (Some(id), OnExisting::Fail) => return Err(CustomerError::DuplicateAccount(id)),
        (Some(id), OnExisting::Skip) => return Ok(Saved::Skipped(id)),
        _ => {}
    }
    for phone in &c.phones {
        match phone_owner(conn, &phone_index(keys, phone)).await? {
            Some(owner) if Some(owner) != existing => {
                return Err(CustomerError::PhoneTaken(owner));
            }
            _ => {}
        }
    }
    let id = match existing {
        Some(id) => id,
        None => CustomerId(fresh_id(conn, ids, "SELECT id FROM customers WHERE id = $1").await?),
    };
    let seal = |column, value: &str| keys.seal(&Aad::new(column, &[id.0]), value.as_bytes());
    let sql = if existing.is_some() {
        "UPDATE customers SET account_index = $2, account_sealed = $3, name_sealed = $4,
                email_sealed = $5, tier = $6, language = $7 WHERE id = $1"
    } else {
        "INSERT INTO customers (id, account_index, account_sealed, name_sealed, email_sealed, tier, language)
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    };
    sqlx::query(sql)
        .bind(id.0)
        .bind(index)
        .bind(seal(ACCOUNT, c.account.as_str()))
        .bind(seal(NAME, &c.name))
        .bind(c.email.as_deref().map(|e| seal(EMAIL, e)))
        .bind(c.tier.as_str())
        .bind(c.language.as_str())
        .execute(&mut *conn)
        .await?;
    write_phones(conn, keys, id, &c.phones).await?;
    Ok(if existing.is_some() {
        Saved::Updated(id)
    } else {
        Saved::Created(id)
    })
}

/// Replaces the phone rows of customer `id`.
async fn write_phones(
    conn: &mut Conn,
    keys: &CustomerKeys,
    id: CustomerId,
    phones: &[PhoneNumber],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM customer_phones WHERE customer_id = $1")
        .bind(id.0)
        .execute(&mut *conn)
        .await?;
    for (position, phone) in (0i64..).zip(phones) {
        let aad = Aad::new(PHONE, &[id.0, position]);
        sqlx::query(
            "INSERT INTO customer_phones (customer_id, position, phone_index, phone_sealed)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id.0)
        .bind(position)
        .bind(phone_index(keys, phone))
        .bind(keys.seal(&aad, phone.as_str().as_bytes()))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// A row id not yet used in the table `exists_sql` selects from.
async fn fresh_id(
    conn: &mut Conn,
    ids: &mut IdGen,
    exists_sql: &'static str,
) -> Result<i64, sqlx::Error> {
    loop {
        let candidate = ids.next_id();
        let taken: Option<i64> = sqlx::query_scalar(exists_sql)
            .bind(candidate)
            .fetch_optional(&mut *conn)
            .await?;
        if taken.is_none() {
            return Ok(candidate);
        }
    }
}

/// Records `t` for `customer`, updating the one with the same kind and
/// reference if it exists (then the flag is true).
pub(super) async fn save_transaction(
    conn: &mut Conn,
    keys: &CustomerKeys,
    ids: &mut IdGen,
    customer: CustomerId,
    t: &ValidTransaction,
) -> Result<(TransactionId, bool), CustomerError> {
    let t = &t.0;
    let index = keys.blind_index("reference", &t.reference);
    let existing: Option<i64> = sqlx::query_scalar(
        "SELECT id FROM customer_transactions
         WHERE customer_id = $1 AND kind = $2 AND reference_index = $3",
    )
    .bind(customer.0)
    .bind(t.kind.as_str())
    .bind(&index)
    .fetch_optional(&mut *conn)
    .await?;
    let id = match existing {
        Some(id) => id,
        None => {
            fresh_id(
                conn,
                ids,
                "SELECT id FROM customer_transactions WHERE id = $1",
            )
            .await?
        }
    };
    let ids = [id, customer.0];
    let sql = if existing.is_some() {
        "UPDATE customer_transactions SET reference_sealed = $4, amount_sealed = $5, status = $6,
                created_at = $7, updated_at = $8, reference_index = $9
         WHERE id = $1 AND customer_id = $2 AND kind = $3"
    } else {
        "INSERT INTO customer_transactions (id, customer_id, kind, reference_sealed, amount_sealed,
                status, created_at, updated_at, reference_index)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    };
    sqlx::query(sql)
        .bind(id)
        .bind(customer.0)
        .bind(t.kind.as_str())
        .bind(keys.seal(&Aad::new(REFERENCE, &ids), t.reference.as_bytes()))
        .bind(keys.seal(&Aad::new(AMOUNT, &ids), &t.amount.to_bytes()))
        .bind(t.status.as_str())
        .bind(t.created_at)
        .bind(t.updated_at)
        .bind(index)
        .execute(&mut *conn)
        .await?;
    Ok((TransactionId(id), existing.is_some()))
}

/// Opens a sealed UTF-8 value of `column` in the row keyed by `ids`.
fn open_text(
    keys: &CustomerKeys,
    column: &'static str,
    ids: &[i64],
    sealed: &str,
) -> Result<String, CustomerError> {
    let row = ids.first().copied().unwrap_or_default();
    let plain = keys
        .open(&Aad::new(column, ids), sealed)
        .ok_or(CustomerError::Decrypt { column, row })?;
    String::from_utf8(plain.to_vec()).map_err(|_| CustomerError::Corrupt {
        row,
        reason: "a sealed text value is not UTF-8",
    })
}

/// Customer `id`, every sealed value opened.
pub(super) async fn load_customer(
    conn: &mut Conn,
    keys: &CustomerKeys,
    id: CustomerId,
) -> Result<Option<Customer>, CustomerError> {
    let row = sqlx::query(
        "SELECT account_sealed, name_sealed, email_sealed, tier, language FROM customers WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let ids = [id.0];
    let email: Option<String> = row.try_get("email_sealed")?;
    let account = open_text(
        keys,
        ACCOUNT,
        &ids,
        &row.try_get::<String, _>("account_sealed")?,
    )?;
    let name = open_text(keys, NAME, &ids, &row.try_get::<String, _>("name_sealed")?)?;
    let email = email
        .map(|e| open_text(keys, EMAIL, &ids, &e))
        .transpose()?;
    let tier = clear(id.0, row.try_get("tier")?, "unknown tier")?;
    let language = clear(id.0, row.try_get("language")?, "unknown language")?;
    let phone_rows = sqlx::query(
        "SELECT position, phone_sealed FROM customer_phones WHERE customer_id = $1 ORDER BY position",
    )
    .bind(id.0)
    .fetch_all(&mut *conn)
    .await?;
    let mut phones = Vec::with_capacity(phone_rows.len());
    for r in &phone_rows {
        let position: i64 = r.try_get("position")?;
        let sealed: String = r.try_get("phone_sealed")?;
        let normal = open_text(keys, PHONE, &[id.0, position], &sealed)?;
        phones.push(PhoneNumber::from_stored(normal));
    }
    Ok(Some(Customer {
        id,
        name,
        phones,
        email,
        account: AccountNumber::from_stored(account),
        tier,
        language,
    }))
}

/// Parses a clear column, or reports the row as corrupt.
fn clear<T: std::str::FromStr>(
    row: i64,
    text: String,
    reason: &'static str,
) -> Result<T, CustomerError> {
    text.parse()
        .map_err(|_| CustomerError::Corrupt { row, reason })
}

/// The `limit` newest transactions of `customer`, opened.
pub(super) async fn load_transactions(
    conn: &mut Conn,
    keys: &CustomerKeys,
    customer: CustomerId,
    limit: usize,
) -> Result<Vec<Transaction>, CustomerError> {
    let rows = sqlx::query(
        "SELECT id, kind, reference_sealed, amount_sealed, status, created_at, updated_at
         FROM customer_transactions WHERE customer_id = $1
         ORDER BY created_at DESC, id DESC LIMIT $2",
    )
    .bind(customer.0)
    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get("id")?;
        let ids = [id, customer.0];
        let reference = open_text(
            keys,
            REFERENCE,
            &ids,
            &row.try_get::<String, _>("reference_sealed")?,
        )?;
        let amount_sealed: String = row.try_get("amount_sealed")?;
        let amount =
            keys.open(&Aad::new(AMOUNT, &ids), &amount_sealed)
                .ok_or(CustomerError::Decrypt {
                    column: AMOUNT,
                    row: id,
                })?;
        out.push(Transaction {
            id: TransactionId(id),
            customer,
            kind: clear(id, row.try_get("kind")?, "unknown transaction kind")?,
            reference,
            amount: Money::from_bytes(&amount).ok_or(CustomerError::Corrupt {
                row: id,
                reason: "a sealed amount has the wrong shape",
            })?,
            status: clear(id, row.try_get("status")?, "unknown transaction status")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        });
    }
    Ok(out)
}

/// The IVR's view of `customer`, from clear columns.
pub(super) async fn ivr_facts(
    conn: &mut Conn,
    customer: CustomerId,
) -> Result<IvrFacts, CustomerError> {
    let row = sqlx::query("SELECT tier, language FROM customers WHERE id = $1")
        .bind(customer.0)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(CustomerError::UnknownCustomer(customer))?;
    let tier: Tier = clear(customer.0, row.try_get("tier")?, "unknown tier")?;
    let language: Language = clear(customer.0, row.try_get("language")?, "unknown language")?;
    Ok(IvrFacts {
        tier,
        language,
        open_orders: open_orders(conn, customer).await?,
        last_order: last_order(conn, customer).await?,
    })
}

/// How many of the customer's orders are open.
async fn open_orders(conn: &mut Conn, customer: CustomerId) -> Result<u32, CustomerError> {
    let counts = sqlx::query(
        "SELECT status, COUNT(*) AS n FROM customer_transactions
         WHERE customer_id = $1 AND kind = $2 GROUP BY status",
    )
    .bind(customer.0)
    .bind(TransactionKind::Order.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut open = 0u32;
    for r in &counts {
        let status: TransactionStatus = clear(
            customer.0,
            r.try_get("status")?,
            "unknown transaction status",
        )?;
        if status.is_open() {
            let n: i64 = r.try_get("n")?;
            open = open.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        }
    }
    Ok(open)
}

/// The state of the customer's most recently placed order.
async fn last_order(
    conn: &mut Conn,
    customer: CustomerId,
) -> Result<Option<LastOrder>, CustomerError> {
    let last = sqlx::query(
        "SELECT id, status, created_at, updated_at FROM customer_transactions
         WHERE customer_id = $1 AND kind = $2 ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(customer.0)
    .bind(TransactionKind::Order.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(r) = last else {
        return Ok(None);
    };
    Ok(Some(LastOrder {
        status: clear(
            r.try_get("id")?,
            r.try_get("status")?,
            "unknown transaction status",
        )?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    }))
}
