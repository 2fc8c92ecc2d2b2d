//! The protected customer store: customers (identity, phones, account, tier,
//! language) and their orders and payments — the node's core data.
//!
//! # Contract
//!
//! - [`Customers`] is a cheap handle (clone it freely) on the node's
//!   [`Store`] pool and a [`CustomerKeys`]. Every method is one short
//!   transaction or a few indexed reads; the database never sees a
//!   sensitive value in clear.
//! - Sealed (AES-256-GCM, fresh random nonce per value, bound to table,
//!   column and row ids): name, phone numbers, email, account number,
//!   transaction reference, amount and currency. Clear: tier, language,
//!   transaction kind, status and dates — what the IVR branches on and
//!   counts without holding the key to every row, and what reveals nothing
//!   about who the customer is.
//! - Lookups by phone or account go through a keyed blind index
//!   (HMAC-SHA256 of the normal form, see [`PhoneNumber`] and
//!   [`AccountNumber`]): equality only. A found row is opened and compared
//!   with what was asked for, so an altered index is an error, never the
//!   wrong customer.
//! - A value that does not open (another key, an altered or moved value) is
//!   [`CustomerError::Decrypt`]: never garbage. The first write records a
//!   keyed check value; writing with another key is
//!   [`CustomerError::WrongKey`], and [`Customers::check_key`] lets the node
//!   refuse a wrong key at start-up.
//! - Malformed caller input to a lookup (an anonymous caller, stray DTMF) is
//!   simply not found. Errors never carry sensitive values.
//!
//! `docs/customers.md` is the operator's side: key management, the CSV
//! format, the demo customers and measured lookup latency.

mod csv;
mod import;
mod keys;
mod model;
mod phone;
mod rows;
mod seed;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_import;

use std::sync::Arc;

pub use import::{ImportKind, ImportReport, RejectedRow};
pub use keys::{CustomerKeys, KeyError, KeySource, MASTER_KEY_LEN};
pub use model::{
    Currency, Customer, CustomerId, IvrFacts, Language, LastOrder, Money, NewCustomer,
    NewTransaction, Tier, Transaction, TransactionId, TransactionKind, TransactionStatus,
};
pub use phone::{AccountNumber, PhoneNumber, PhonePlan};
pub use seed::{DEMO_CUSTOMERS, DemoCustomer, DemoTransaction};

use crate::store::{Store, StoreError};
use rows::{IdGen, OnExisting, ValidCustomer, ValidTransaction};

/// The customer store: lookups for the IVR and screen pops, inserts and
/// imports for provisioning.
#[derive(Debug, Clone)]
pub struct Customers {
    store: Store,
    keys: Arc<CustomerKeys>,
    plan: PhonePlan,
}

/// Why a customer operation failed. Messages name fields, rows and lines,
/// never the sensitive values themselves.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CustomerError {
    /// A value other than a phone or account number was rejected.
    #[error("invalid {field}: {reason}")]
    InvalidValue {
        /// Which value.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A phone number was rejected.
    #[error("invalid phone number: {0}")]
    InvalidPhone(&'static str),
    /// An account number was rejected.
    #[error("invalid account number: {0}")]
    InvalidAccount(&'static str),
    /// [`Customers::insert`] for an account number already stored.
    #[error("the account number belongs to customer {0}")]
    DuplicateAccount(CustomerId),
    /// A phone number already belongs to another customer.
    #[error("the phone number belongs to customer {0}")]
    PhoneTaken(CustomerId),
    /// No customer has this id.
    #[error("no customer {0}")]
    UnknownCustomer(CustomerId),
    /// A sealed value did not open: the key is not the one it was written
    /// with, or the value was altered or moved from another row or column.
    #[error("cannot decrypt {column} of row {row}: wrong key, or the row was altered")]
    Decrypt {
        /// `table.column`.
        column: &'static str,
        /// The row's id (the customer's or the transaction's).
        row: i64,
    },
    /// The blind index led to a row whose sealed value is not the one asked
    /// for: the index was altered.
    #[error(
        "the {column} index leads to customer {row}, whose value differs: the index was altered"
    )]
    IndexMismatch {
        /// `table.column`.
        column: &'static str,
        /// The customer the index led to.
        row: i64,
    },
    /// The store was written with another key.
    #[error("the customer key is not the one this store was written with")]
    WrongKey,
    /// A clear column holds a value this version cannot read.
    #[error("customer row {row} is not readable: {reason}")]
    Corrupt {
        /// The row's id.
        row: i64,
        /// What is wrong.
        reason: &'static str,
    },
    /// The CSV input cannot be imported at all (no usable header).
    #[error("CSV line {line}: {reason}")]
    CsvHeader {
        /// 1-based line of the header.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The CSV input could not be read.
    #[error("cannot read the CSV input")]
    Read(#[source] std::io::Error),
    /// The database failed.
    #[error("customer store operation failed")]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CustomerError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(StoreError::from(e))
    }
}

impl Customers {
    /// A customer store on `store`'s pool, sealing with `keys`, reading
    /// caller numbers by the default [`PhonePlan`] (North America).
    #[must_use]
    pub fn new(store: &Store, keys: CustomerKeys) -> Self {
        Self {
            store: store.clone(),
            keys: Arc::new(keys),
            plan: PhonePlan::default(),
        }
    }

    /// The same store reading phone numbers by `plan`. Numbers already
    /// stored keep the normal form they were given under the old plan.
    #[must_use]
    pub fn with_phone_plan(mut self, plan: PhonePlan) -> Self {
        self.plan = plan;
        self
    }

    /// The plan phone numbers are read by.
    #[must_use]
    pub fn phone_plan(&self) -> &PhonePlan {
        &self.plan
    }

    /// Checks that the store was written with this key (or holds nothing
    /// written yet). Call it at start-up to refuse a wrong key early.
    ///
    /// # Errors
    ///
    /// [`CustomerError::WrongKey`], or [`CustomerError::Store`].
    pub async fn check_key(&self) -> Result<(), CustomerError> {
        let mut conn = self.store.pool().acquire().await?;
        rows::check_key(&mut conn, &self.keys).await
    }

    /// The customer one of whose phone numbers is `number`, in any form the
    /// phone plan reads. A malformed number is not found.
    ///
    /// # Errors
    ///
    /// [`CustomerError::Decrypt`] or [`CustomerError::IndexMismatch`] when
    /// the row does not open or is not the one asked for;
    /// [`CustomerError::Store`].
    pub async fn lookup_by_phone(&self, number: &str) -> Result<Option<Customer>, CustomerError> {
        let Ok(phone) = PhoneNumber::parse(number, &self.plan) else {
            return Ok(None);
        };
        let mut conn = self.store.pool().acquire().await?;
        let index = rows::phone_index(&self.keys, &phone);
        let Some(id) = rows::phone_owner(&mut conn, &index).await? else {
            return Ok(None);
        };
        let customer = rows::load_customer(&mut conn, &self.keys, id).await?;
        match customer {
            Some(c) if c.phones.contains(&phone) => Ok(Some(c)),
            _ => Err(CustomerError::IndexMismatch {
                column: rows::PHONE,
                row: id.0,
            }),
        }
    }

    /// The customer with account number `account` (spacing and case
    /// ignored). A malformed number is not found.
    ///
    /// # Errors
    ///
    /// As [`Customers::lookup_by_phone`].
    pub async fn lookup_by_account(
        &self,
        account: &str,
    ) -> Result<Option<Customer>, CustomerError> {
        let Ok(account) = AccountNumber::parse(account) else {
            return Ok(None);
        };
        let mut conn = self.store.pool().acquire().await?;
        let index = rows::account_index(&self.keys, &account);
        let Some(id) = rows::account_owner(&mut conn, &index).await? else {
            return Ok(None);
        };
        let customer = rows::load_customer(&mut conn, &self.keys, id).await?;
        match customer {
            Some(c) if c.account == account => Ok(Some(c)),
            _ => Err(CustomerError::IndexMismatch {
                column: rows::ACCOUNT,
                row: id.0,
            }),
        }
    }

    /// The customer with id `id`, if stored (for screen pops by id).
    ///
    /// # Errors
    ///
    /// [`CustomerError::Decrypt`] when a value does not open,
    /// [`CustomerError::Store`].
    pub async fn customer(&self, id: CustomerId) -> Result<Option<Customer>, CustomerError> {
        let mut conn = self.store.pool().acquire().await?;
        rows::load_customer(&mut conn, &self.keys, id).await
    }

    /// The customer's `limit` most recent transactions, newest first.
    ///
    /// # Errors
    ///
    /// [`CustomerError::Decrypt`] when a value does not open,
    /// [`CustomerError::Store`].
    pub async fn recent_transactions(
        &self,
        customer: CustomerId,
        limit: usize,
    ) -> Result<Vec<Transaction>, CustomerError> {
        let mut conn = self.store.pool().acquire().await?;
        rows::load_transactions(&mut conn, &self.keys, customer, limit).await
    }

    /// Tier, language, open orders and the last order's state: what the IVR
    /// branches on. Reads clear columns only.
    ///
    /// # Errors
    ///
    /// [`CustomerError::UnknownCustomer`], [`CustomerError::Corrupt`],
    /// [`CustomerError::Store`].
    pub async fn ivr_facts(&self, customer: CustomerId) -> Result<IvrFacts, CustomerError> {
        let mut conn = self.store.pool().acquire().await?;
        rows::ivr_facts(&mut conn, customer).await
    }

    /// Stores a new customer.
    ///
    /// # Errors
    ///
    /// [`CustomerError::InvalidValue`], [`CustomerError::InvalidPhone`],
    /// [`CustomerError::InvalidAccount`] for bad input;
    /// [`CustomerError::DuplicateAccount`], [`CustomerError::PhoneTaken`];
    /// [`CustomerError::WrongKey`]; [`CustomerError::Store`].
    pub async fn insert(&self, customer: NewCustomer) -> Result<CustomerId, CustomerError> {
        let valid = ValidCustomer::new(&customer, &self.plan)?;
        let mut tx = self.store.pool().begin().await?;
        rows::ensure_key(&mut tx, &self.keys).await?;
        let mut ids = IdGen::from_os();
        let saved =
            rows::save_customer(&mut tx, &self.keys, &mut ids, &valid, OnExisting::Fail).await?;
        tx.commit().await?;
        tracing::debug!(customer = saved.id().0, "customer inserted");
        Ok(saved.id())
    }

    /// Records a transaction for `customer`. One with the same kind and
    /// reference is updated in place (amount, status, dates), so sending it
    /// again is harmless.
    ///
    /// # Errors
    ///
    /// [`CustomerError::InvalidValue`] for bad input,
    /// [`CustomerError::UnknownCustomer`], [`CustomerError::WrongKey`],
    /// [`CustomerError::Store`].
    pub async fn add_transaction(
        &self,
        customer: CustomerId,
        transaction: NewTransaction,
    ) -> Result<TransactionId, CustomerError> {
        let valid = ValidTransaction::new(&transaction)?;
        let mut tx = self.store.pool().begin().await?;
        rows::ensure_key(&mut tx, &self.keys).await?;
        if !rows::customer_exists(&mut tx, customer).await? {
            return Err(CustomerError::UnknownCustomer(customer));
        }
        let mut ids = IdGen::from_os();
        let (id, _) =
            rows::save_transaction(&mut tx, &self.keys, &mut ids, customer, &valid).await?;
        tx.commit().await?;
        Ok(id)
    }
}
