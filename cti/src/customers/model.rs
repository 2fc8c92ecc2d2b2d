//! The customer data model: what callers give, what the store returns, and
//! the clear values (tier, language, kind, status) the IVR branches on.
//!
//! Types that hold sensitive values ([`Customer`], [`Transaction`],
//! [`NewCustomer`], [`NewTransaction`]) print only their clear fields in
//! `Debug`, so a stray `{:?}` in a log line leaks no core data.

use std::fmt;
use std::str::FromStr;

use super::CustomerError;
use super::phone::{AccountNumber, PhoneNumber};

/// Longest accepted name, email and reference, in characters.
pub(super) const TEXT_MAX_LEN: usize = 200;

/// A customer's id: a random integer in `1..2^53` (exact in JSON numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomerId(pub i64);

/// A transaction's id, like [`CustomerId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub i64);

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Defines a closed set of lowercase tokens stored in clear columns.
macro_rules! token_enum {
    ($(#[$doc:meta])* $name:ident as $field:literal { $($(#[$vdoc:meta])* $variant:ident => $token:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name { $($(#[$vdoc])* $variant,)+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The token stored in the database and used in CSV files.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $token,)+ }
            }
        }

        impl FromStr for $name {
            type Err = CustomerError;
            /// Parses the token, ignoring ASCII case and surrounding spaces.
            fn from_str(s: &str) -> Result<Self, CustomerError> {
                let s = s.trim();
                Self::ALL.iter().copied().find(|v| v.as_str().eq_ignore_ascii_case(s)).ok_or(
                    CustomerError::InvalidValue {
                        field: $field,
                        reason: concat!("expected one of:", $(" ", $token,)+),
                    },
                )
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

token_enum! {
    /// Service tier: the IVR gives VIP and gold callers other routes.
    Tier as "tier" {
        /// The default tier.
        Standard => "standard",
        /// Preferred customers.
        Gold => "gold",
        /// Top customers.
        Vip => "vip",
    }
}

token_enum! {
    /// What a transaction is.
    TransactionKind as "kind" {
        /// A purchase that is fulfilled over time (placed, shipped, …).
        Order => "order",
        /// Money received or returned.
        Payment => "payment",
    }
}

token_enum! {
    /// Where a transaction stands.
    TransactionStatus as "status" {
        /// Ordered, not yet shipped.
        Placed => "placed",
        /// On its way.
        Shipped => "shipped",
        /// Arrived.
        Delivered => "delivered",
        /// Payment received.
        Paid => "paid",
        /// Money returned.
        Refunded => "refunded",
        /// Could not be completed (payment declined, order lost).
        Failed => "failed",
        /// Withdrawn before completion.
        Cancelled => "cancelled",
    }
}

impl Default for Tier {
    /// [`Tier::Standard`].
    fn default() -> Self {
        Self::Standard
    }
}

impl TransactionStatus {
    /// Whether an order in this status still awaits delivery.
    #[must_use]
    pub fn is_open(self) -> bool {
        matches!(self, Self::Placed | Self::Shipped)
    }
}

/// A preferred language as a BCP 47 tag (`en`, `pt-BR`, `es-419`): a primary
/// subtag of 2–3 letters, then up to three subtags of 1–8 letters or digits.
/// The IVR picks prompts by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Language(String);

impl Language {
    /// The tag, primary subtag in lowercase.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for Language {
    /// English (`en`).
    fn default() -> Self {
        Self("en".to_owned())
    }
}

impl FromStr for Language {
    type Err = CustomerError;
    fn from_str(s: &str) -> Result<Self, CustomerError> {
        let invalid = CustomerError::InvalidValue {
            field: "language",
            reason: "expected a language tag such as en, fr or pt-BR",
        };
        let s = s.trim();
        let mut parts = s.split('-');
        let primary = parts.next().unwrap_or_default();
        let primary_ok =
            (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic());
        let rest: Vec<&str> = parts.collect();
        let rest_ok = rest.len() <= 3
            && rest.iter().all(|p| {
                (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if !primary_ok || !rest_ok {
            return Err(invalid);
        }
        let mut tag = primary.to_ascii_lowercase();
        for part in rest {
            tag.push('-');
            tag.push_str(part);
        }
        Ok(Self(tag))
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ISO 4217 currency code: three ASCII letters, kept in uppercase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// The code, such as `EUR`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored (see `FromStr`).
        std::str::from_utf8(&self.0).expect("a currency code is ASCII")
    }
}

impl FromStr for Currency {
    type Err = CustomerError;
    fn from_str(s: &str) -> Result<Self, CustomerError> {
        match s.trim().as_bytes() {
            &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_alphabetic) => Ok(Self([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ])),
            _ => Err(CustomerError::InvalidValue {
                field: "currency",
                reason: "expected a three-letter ISO 4217 code such as EUR",
            }),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount in the currency's minor units (cents for EUR: 1999 is 19.99).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    /// Minor units; negative for money going back to the customer.
    pub minor: i64,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// Sealed form: 8 bytes big-endian minor units, then the 3-byte code.
    pub(super) fn to_bytes(self) -> [u8; 11] {
        let mut out = [0u8; 11];
        out[..8].copy_from_slice(&self.minor.to_be_bytes());
        out[8..].copy_from_slice(&self.currency.0);
        out
    }

    /// Reads [`Money::to_bytes`] back; `None` for any other shape.
    pub(super) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (minor, code) = bytes.split_first_chunk::<8>()?;
        let currency = std::str::from_utf8(code).ok()?.parse().ok()?;
        Some(Self {
            minor: i64::from_be_bytes(*minor),
            currency,
        })
    }
}

/// A customer to insert (or, from an import, to update by account number).
#[derive(Clone, PartialEq, Eq)]
pub struct NewCustomer {
    /// Full name, 1–200 characters.
    pub name: String,
    /// One or more phone numbers in any form [`super::PhonePlan`] reads.
    pub phones: Vec<String>,
    /// Email address, if known.
    pub email: Option<String>,
    /// Account number (letters, digits; spaces and dashes are ignored).
    pub account: String,
    /// Service tier.
    pub tier: Tier,
    /// Preferred language.
    pub language: Language,
}

/// A stored customer, decrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct Customer {
    /// Its id.
    pub id: CustomerId,
    /// Full name.
    pub name: String,
    /// Phone numbers, normalised, in the order given (at least one).
    pub phones: Vec<PhoneNumber>,
    /// Email address, if known.
    pub email: Option<String>,
    /// Account number, normalised.
    pub account: AccountNumber,
    /// Service tier.
    pub tier: Tier,
    /// Preferred language.
    pub language: Language,
}

/// A transaction to record for a customer.
#[derive(Clone, PartialEq, Eq)]
pub struct NewTransaction {
    /// Order or payment.
    pub kind: TransactionKind,
    /// The business system's reference (order or payment number), 1–200
    /// characters; unique per customer and kind.
    pub reference: String,
    /// Amount and currency.
    pub amount: Money,
    /// Where it stands.
    pub status: TransactionStatus,
    /// When it was made, unix seconds.
    pub created_at: i64,
    /// When its status last changed, unix seconds.
    pub updated_at: i64,
}

/// A stored transaction, decrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Its id.
    pub id: TransactionId,
    /// The customer it belongs to.
    pub customer: CustomerId,
    /// Order or payment.
    pub kind: TransactionKind,
    /// The business system's reference.
    pub reference: String,
    /// Amount and currency.
    pub amount: Money,
    /// Where it stands.
    pub status: TransactionStatus,
    /// When it was made, unix seconds.
    pub created_at: i64,
    /// When its status last changed, unix seconds.
    pub updated_at: i64,
}

/// What the IVR branches on and plays for an identified caller; read from
/// clear columns only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IvrFacts {
    /// Service tier.
    pub tier: Tier,
    /// Preferred language.
    pub language: Language,
    /// Orders placed or shipped, not yet delivered.
    pub open_orders: u32,
    /// The most recently placed order, if any.
    pub last_order: Option<LastOrder>,
}

/// The most recent order's state, for prompts such as "your order of May 2
/// was shipped on May 4".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LastOrder {
    /// Where it stands.
    pub status: TransactionStatus,
    /// When it was placed, unix seconds.
    pub created_at: i64,
    /// When its status last changed, unix seconds.
    pub updated_at: i64,
}

impl fmt::Debug for NewCustomer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCustomer")
            .field("tier", &self.tier)
            .field("language", &self.language)
            .field("phones", &self.phones.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Customer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Customer")
            .field("id", &self.id)
            .field("tier", &self.tier)
            .field("language", &self.language)
            .field("phones", &self.phones.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for NewTransaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewTransaction")
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("id", &self.id)
            .field("customer", &self.customer)
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .finish_non_exhaustive()
    }
}

/// Checks a free-text value: trimmed, 1–200 characters, no control
/// characters. Returns it trimmed.
pub(super) fn valid_text(field: &'static str, value: &str) -> Result<String, CustomerError> {
    let value = value.trim();
    let reason = if value.is_empty() {
        "it is empty"
    } else if value.chars().count() > TEXT_MAX_LEN {
        "it is longer than 200 characters"
    } else if value.chars().any(char::is_control) {
        "it contains control characters"
    } else {
        return Ok(value.to_owned());
    };
    Err(CustomerError::InvalidValue { field, reason })
}

/// Checks an email address loosely: one `@` with text on both sides, a dot
/// in the domain, no spaces. Returns it trimmed.
pub(super) fn valid_email(value: &str) -> Result<String, CustomerError> {
    let value = valid_text("email", value)?;
    let shape_ok = match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        }
        None => false,
    };
    if !shape_ok || value.chars().any(char::is_whitespace) {
        return Err(CustomerError::InvalidValue {
            field: "email",
            reason: "expected an address such as name@example.com",
        });
    }
    Ok(value)
}
