//! Demo customers: ten fixed ones reachable from the demo extensions
//! 1001–1010, and any number of synthetic ones drawn from small built-in
//! name lists by a seeded generator. The same seed gives the same customers,
//! orders and ids on every run and platform (nonces stay random).

use super::rows::{self, IdGen, OnExisting, Saved, ValidCustomer, ValidTransaction};
use super::{
    CustomerError, Customers, Money, NewCustomer, NewTransaction, Tier, TransactionKind,
    TransactionStatus,
};
use crate::store::Db;

type Conn = <Db as sqlx::Database>::Connection;

/// A fixed demo customer: calling from `extension` finds it.
#[derive(Debug, Clone, Copy)]
pub struct DemoCustomer {
    /// The demo extension that is its phone number.
    pub extension: &'static str,
    /// A second, E.164 number (from ranges reserved for fiction).
    pub mobile: &'static str,
    /// Full name.
    pub name: &'static str,
    /// Account number.
    pub account: &'static str,
    /// Service tier.
    pub tier: Tier,
    /// Preferred language tag.
    pub language: &'static str,
    /// Orders and payments.
    pub transactions: &'static [DemoTransaction],
}

/// A transaction of a fixed demo customer.
#[derive(Debug, Clone, Copy)]
pub struct DemoTransaction {
    /// Order or payment.
    pub kind: TransactionKind,
    /// Reference.
    pub reference: &'static str,
    /// Where it stands.
    pub status: TransactionStatus,
    /// Amount in minor units of `currency`.
    pub amount_minor: i64,
    /// ISO 4217 code.
    pub currency: &'static str,
    /// When it was made, unix seconds.
    pub created_at: i64,
    /// When its status last changed, unix seconds.
    pub updated_at: i64,
}

/// Midnight UTC of a date, as unix seconds.
const fn day(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    (era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468) * 86_400
}

/// Synthetic orders fall in the 120 days from this date.
const SYNTHETIC_BASE: i64 = day(2025, 1, 6);

const fn order(
    reference: &'static str,
    status: TransactionStatus,
    amount_minor: i64,
    created_at: i64,
    updated_at: i64,
) -> DemoTransaction {
    DemoTransaction {
        kind: TransactionKind::Order,
        reference,
        status,
        amount_minor,
        currency: "USD",
        created_at,
        updated_at,
    }
}

const fn payment(
    reference: &'static str,
    status: TransactionStatus,
    amount_minor: i64,
    at: i64,
) -> DemoTransaction {
    DemoTransaction {
        kind: TransactionKind::Payment,
        reference,
        status,
        amount_minor,
        currency: "USD",
        created_at: at,
        updated_at: at,
    }
}

use TransactionStatus as S;

/// The fixed demo customers, one per demo extension (see
/// `docs/customers.md`).
#[rustfmt::skip]
pub const DEMO_CUSTOMERS: &[DemoCustomer] = &[
    DemoCustomer { extension: "1001", mobile: "+44 20 7946 0001", name: "Ada Lovelace", account: "100001", tier: Tier::Vip, language: "en",
        transactions: &[order("D-1001-1", S::Delivered, 12_900, day(2025, 4, 2), day(2025, 4, 5)), payment("P-1001-1", S::Paid, 12_900, day(2025, 4, 2))] },
    DemoCustomer { extension: "1002", mobile: "+1 202 555 0102", name: "Grace Hopper", account: "100002", tier: Tier::Gold, language: "en",
        transactions: &[order("D-1002-1", S::Shipped, 4_550, day(2025, 5, 2), day(2025, 5, 4))] },
    DemoCustomer { extension: "1003", mobile: "+1 202 555 0103", name: "Alan Turing", account: "100003", tier: Tier::Standard, language: "en",
        transactions: &[order("D-1003-1", S::Delivered, 2_999, day(2025, 4, 20), day(2025, 4, 24))] },
    DemoCustomer { extension: "1004", mobile: "+1 202 555 0104", name: "Katherine Johnson", account: "100004", tier: Tier::Standard, language: "en",
        transactions: &[order("D-1004-1", S::Placed, 8_000, day(2025, 5, 6), day(2025, 5, 6))] },
    DemoCustomer { extension: "1005", mobile: "+31 20 794 6005", name: "Edsger Dijkstra", account: "100005", tier: Tier::Gold, language: "nl",
        transactions: &[order("D-1005-1", S::Refunded, 15_000, day(2025, 3, 10), day(2025, 3, 20))] },
    DemoCustomer { extension: "1006", mobile: "+49 30 7946 0006", name: "Hedy Lamarr", account: "100006", tier: Tier::Vip, language: "de",
        transactions: &[order("D-1006-1", S::Placed, 54_000, day(2025, 5, 5), day(2025, 5, 5)), payment("P-1006-1", S::Failed, 54_000, day(2025, 5, 5))] },
    DemoCustomer { extension: "1007", mobile: "+1 202 555 0107", name: "Margaret Hamilton", account: "100007", tier: Tier::Standard, language: "en",
        transactions: &[] },
    DemoCustomer { extension: "1008", mobile: "+1 202 555 0108", name: "Claude Shannon", account: "100008", tier: Tier::Gold, language: "en",
        transactions: &[order("D-1008-1", S::Shipped, 1_250, day(2025, 5, 3), day(2025, 5, 5)), order("D-1008-2", S::Placed, 3_400, day(2025, 5, 6), day(2025, 5, 6))] },
    DemoCustomer { extension: "1009", mobile: "+33 1 79 46 00 09", name: "Radia Perlman", account: "100009", tier: Tier::Standard, language: "fr",
        transactions: &[order("D-1009-1", S::Failed, 7_700, day(2025, 5, 1), day(2025, 5, 1))] },
    DemoCustomer { extension: "1010", mobile: "+34 91 794 6010", name: "Donald Knuth", account: "100010", tier: Tier::Vip, language: "es",
        transactions: &[order("D-1010-1", S::Cancelled, 25_600, day(2025, 4, 28), day(2025, 4, 29))] },
];

const FIRST_NAMES: &[&str] = &[
    "Amara", "Bruno", "Chen", "Dana", "Elif", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal",
    "Lena", "Mateo", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq", "Uma", "Victor",
    "Wen", "Yara", "Zoe",
];

const LAST_NAMES: &[&str] = &[
    "Abara",
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Silva",
    "Tanaka",
    "Varga",
    "Weber",
    "Yilmaz",
    "Zhou",
];

/// Languages of synthetic customers, weighted by repetition.
const SYNTHETIC_LANGUAGES: &[&str] = &[
    "en", "en", "en", "en", "en", "en", "en", "en", "en", "en", "en", "en", "es", "es", "fr", "de",
];

/// Statuses of synthetic orders, weighted by repetition.
const SYNTHETIC_STATUSES: &[TransactionStatus] = &[
    S::Placed,
    S::Placed,
    S::Shipped,
    S::Shipped,
    S::Delivered,
    S::Delivered,
    S::Delivered,
    S::Delivered,
    S::Refunded,
    S::Failed,
];

impl DemoCustomer {
    fn new_customer(&self) -> NewCustomer {
        let mut email = self.name.to_ascii_lowercase().replace(' ', ".");
        email.push_str("@example.com");
        NewCustomer {
            name: self.name.to_owned(),
            phones: vec![self.extension.to_owned(), self.mobile.to_owned()],
            email: Some(email),
            account: self.account.to_owned(),
            tier: self.tier,
            language: self.language.parse().unwrap_or_default(),
        }
    }

    fn new_transactions(&self) -> Vec<NewTransaction> {
        self.transactions
            .iter()
            .map(|t| NewTransaction {
                kind: t.kind,
                reference: t.reference.to_owned(),
                amount: Money {
                    minor: t.amount_minor,
                    // The table's codes are all valid; USD stands in otherwise.
                    currency: t.currency.parse().unwrap_or_else(|_| usd()),
                },
                status: t.status,
                created_at: t.created_at,
                updated_at: t.updated_at,
            })
            .collect()
    }
}

fn usd() -> super::Currency {
    // "USD" is three ASCII letters.
    "USD".parse().expect("USD is a valid currency code")
}

/// Synthetic customer `i` of the run seeded with `seed`.
fn synthetic(seed: u64, i: usize) -> (NewCustomer, Vec<NewTransaction>) {
    let index = u64::try_from(i).unwrap_or(u64::MAX);
    let mut rng = IdGen::seeded(seed ^ index.wrapping_mul(0xd6e8_feb8_6659_fd93));
    let first = rng.pick(FIRST_NAMES, "Alex");
    let last = rng.pick(LAST_NAMES, "Doe");
    let account = 2_000_000 + index;
    let tier = match rng.below(100) {
        0..8 => Tier::Vip,
        8..30 => Tier::Gold,
        _ => Tier::Standard,
    };
    let language = rng.pick(SYNTHETIC_LANGUAGES, "en");
    let customer = NewCustomer {
        name: format!("{first} {last}"),
        phones: vec![format!(
            "+1 555-{:03}-{:04}",
            (index / 10_000) % 1000,
            index % 10_000
        )],
        email: Some(format!(
            "{}.{}{index}@example.com",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase()
        )),
        account: account.to_string(),
        tier,
        language: language.parse().unwrap_or_default(),
    };
    let orders = (0..rng.below(4))
        .map(|n| synthetic_order(&mut rng, format!("ORD-{account}-{n}")))
        .collect();
    (customer, orders)
}

/// One synthetic order in the 120 days from [`SYNTHETIC_BASE`].
fn synthetic_order(rng: &mut IdGen, reference: String) -> NewTransaction {
    let status = rng.pick(SYNTHETIC_STATUSES, S::Delivered);
    let created_at = SYNTHETIC_BASE + rng.below_i64(120 * 86_400);
    let moved = if status == S::Placed {
        0
    } else {
        3600 + rng.below_i64(7 * 86_400)
    };
    NewTransaction {
        kind: TransactionKind::Order,
        reference,
        amount: Money {
            minor: 500 + rng.below_i64(50_000),
            currency: usd(),
        },
        status,
        created_at,
        updated_at: created_at + moved,
    }
}

impl Customers {
    /// Stores the fixed [`DEMO_CUSTOMERS`] and `count` synthetic customers
    /// (accounts `2000000` + i, phones `+1 555-EEE-LLLL` from i), with their
    /// orders, all drawn from `seed`. Customers whose account number or phone
    /// is already stored are left alone, so seeding again is harmless.
    /// Returns how many customers were created.
    ///
    /// # Errors
    ///
    /// [`CustomerError::InvalidPhone`] when the phone plan reads the demo
    /// extensions as national numbers (extensions of fewer than 4 digits),
    /// [`CustomerError::WrongKey`], [`CustomerError::Store`].
    pub async fn seed_demo(&self, count: usize, seed: u64) -> Result<usize, CustomerError> {
        let mut tx = self.store.pool().begin().await?;
        rows::ensure_key(&mut tx, &self.keys).await?;
        let mut ids = IdGen::seeded(seed);
        let mut created = 0;
        for demo in DEMO_CUSTOMERS {
            let saved = self
                .seed_one(
                    &mut tx,
                    &mut ids,
                    &demo.new_customer(),
                    &demo.new_transactions(),
                )
                .await?;
            created += usize::from(saved);
        }
        for i in 0..count {
            let (customer, orders) = synthetic(seed, i);
            created += usize::from(self.seed_one(&mut tx, &mut ids, &customer, &orders).await?);
        }
        tx.commit().await?;
        tracing::info!(created, "demo customers seeded");
        Ok(created)
    }

    /// Stores one customer and its transactions unless its account or a
    /// phone is taken; returns whether it was created.
    async fn seed_one(
        &self,
        conn: &mut Conn,
        ids: &mut IdGen,
        customer: &NewCustomer,
        transactions: &[NewTransaction],
    ) -> Result<bool, CustomerError> {
        let valid = ValidCustomer::new(customer, &self.plan)?;
        let id = match rows::save_customer(conn, &self.keys, ids, &valid, OnExisting::Skip).await {
            Ok(Saved::Created(id)) => id,
            Ok(Saved::Updated(_) | Saved::Skipped(_)) | Err(CustomerError::PhoneTaken(_)) => {
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        for t in transactions {
            let valid = ValidTransaction::new(t)?;
            rows::save_transaction(conn, &self.keys, ids, id, &valid).await?;
        }
        Ok(true)
    }
}
