//! Customer store tests on a real SQLite file in a temporary directory.

use std::path::Path;

use super::*;
use crate::store::Store;

pub(super) async fn open_in(dir: &Path) -> Store {
    Store::open_file(&dir.join("node.db"))
        .await
        .expect("a fresh temporary directory holds a usable database")
}

pub(super) fn temp_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("the test machine has a writable temporary directory")
}

pub(super) fn keys(byte: u8) -> CustomerKeys {
    CustomerKeys::from_master_key(&[byte; MASTER_KEY_LEN])
}

fn customer(name: &str, account: &str, phones: &[&str]) -> NewCustomer {
    NewCustomer {
        name: name.to_owned(),
        phones: phones.iter().map(|p| (*p).to_owned()).collect(),
        email: Some(format!("{}@example.com", account.to_ascii_lowercase())),
        account: account.to_owned(),
        tier: Tier::Gold,
        language: "fr".parse().expect("valid tag"),
    }
}

fn order(reference: &str, status: TransactionStatus, created_at: i64) -> NewTransaction {
    NewTransaction {
        kind: TransactionKind::Order,
        reference: reference.to_owned(),
        amount: Money {
            minor: 1999,
            currency: "eur".parse().expect("valid code"),
        },
        status,
        created_at,
        updated_at: created_at + 60,
    }
}

#[tokio::test]
async fn every_caller_form_of_a_phone_finds_the_inserted_customer() {
    let dir = temp_dir();
    let customers = Customers::new(&open_in(dir.path()).await, keys(1));
    let id = customers
        .insert(customer(
            "Ada Byron",
            "ac-77",
            &["+1 (555) 123-4567", "1001"],
        ))
        .await
        .expect("valid customer");
    for form in [
        "+15551234567",
        "15551234567",
        "0015551234567",
        "5551234567",
        "1001",
    ] {
        let found = customers
            .lookup_by_phone(form)
            .await
            .expect("lookup runs")
            .unwrap_or_else(|| panic!("{form} finds the customer"));
        assert_eq!(found.id, id, "{form}");
        assert_eq!(found.name, "Ada Byron");
        assert_eq!(found.account.as_str(), "AC77");
        assert_eq!(found.email.as_deref(), Some("ac-77@example.com"));
        assert_eq!((found.tier, found.language.as_str()), (Tier::Gold, "fr"));
        let phones: Vec<&str> = found.phones.iter().map(PhoneNumber::as_str).collect();
        assert_eq!(phones, ["+15551234567", "1001"]);
    }
    let by_account = customers.lookup_by_account(" ac 77 ").await.expect("runs");
    assert_eq!(by_account.map(|c| c.id), Some(id));
    for unknown in ["+15551234568", "1002", "anonymous", ""] {
        assert!(
            customers
                .lookup_by_phone(unknown)
                .await
                .expect("runs")
                .is_none(),
            "{unknown}"
        );
    }
    assert!(
        customers
            .lookup_by_account("AC78")
            .await
            .expect("runs")
            .is_none()
    );
    assert!(
        customers
            .lookup_by_account("no_such!")
            .await
            .expect("runs")
            .is_none()
    );
}

#[tokio::test]
async fn no_plaintext_value_reaches_the_database_files() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    let customers = Customers::new(&store, keys(2));
    let mut planted = customer("Zyxquorth Plimsoll", "MRK93751", &["+1 555 987 6543"]);
    planted.email = Some("qx7marker@example.com".to_owned());
    let id = customers.insert(planted).await.expect("valid");
    customers
        .add_transaction(
            id,
            order("REFMARKER42", TransactionStatus::Shipped, 1_700_000_000),
        )
        .await
        .expect("valid");
    store.close().await;
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).expect("temp dir is readable") {
        let path = entry.expect("directory entry").path();
        bytes.extend(std::fs::read(&path).expect("database files are readable"));
    }
    let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    // The search works: clear columns are there.
    assert!(
        contains("shipped") && contains("customers"),
        "the rows were written"
    );
    for marker in [
        "Zyxquorth",
        "Plimsoll",
        "qx7marker",
        "MRK93751",
        "5559876543",
        "555 987 6543",
        "REFMARKER42",
    ] {
        assert!(
            !contains(marker),
            "{marker} is in the database files in clear"
        );
    }
}

#[tokio::test]
async fn another_key_can_neither_find_nor_read_nor_write_the_rows() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    let owner = Customers::new(&store, keys(3));
    let id = owner
        .insert(customer("Grace", "G1", &["+44 20 7946 0002"]))
        .await
        .expect("valid");
    owner
        .add_transaction(id, order("O-1", TransactionStatus::Placed, 10))
        .await
        .expect("valid");
    let intruder = Customers::new(&store, keys(4));
    assert!(
        intruder
            .lookup_by_phone("+442079460002")
            .await
            .expect("runs")
            .is_none()
    );
    assert!(
        intruder
            .lookup_by_account("G1")
            .await
            .expect("runs")
            .is_none()
    );
    let read = intruder
        .customer(id)
        .await
        .expect_err("the row does not open");
    assert!(
        matches!(read, CustomerError::Decrypt { row, .. } if row == id.0),
        "{read}"
    );
    let txs = intruder
        .recent_transactions(id, 5)
        .await
        .expect_err("sealed");
    assert!(matches!(txs, CustomerError::Decrypt { .. }), "{txs}");
    assert!(matches!(
        intruder.check_key().await,
        Err(CustomerError::WrongKey)
    ));
    let write = intruder.insert(customer("Eve", "E1", &["1005"])).await;
    assert!(matches!(write, Err(CustomerError::WrongKey)), "{write:?}");
    owner.check_key().await.expect("the owner's key matches");
    assert_eq!(
        owner.customer(id).await.expect("opens").map(|c| c.name),
        Some("Grace".to_owned())
    );
}

/// Runs one statement against the raw tables, as someone with write access
/// to the database file could.
async fn tamper(store: &Store, sql: &'static str, binds: &[i64]) {
    let mut query = sqlx::query(sql);
    for b in binds {
        query = query.bind(*b);
    }
    query
        .execute(store.pool())
        .await
        .expect("tampering statement runs");
}

#[tokio::test]
async fn sealed_values_moved_between_rows_or_columns_are_detected() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    let customers = Customers::new(&store, keys(5));
    let a = customers
        .insert(customer("Alice", "A1", &["2001"]))
        .await
        .expect("valid");
    let b = customers
        .insert(customer("Bob", "B1", &["2002"]))
        .await
        .expect("valid");
    // Swap the two sealed names.
    let mut names = Vec::new();
    for id in [a, b] {
        let name: String = sqlx::query_scalar("SELECT name_sealed FROM customers WHERE id = $1")
            .bind(id.0)
            .fetch_one(store.pool())
            .await
            .expect("row exists");
        names.push(name);
    }
    for (id, name) in [b, a].into_iter().zip(&names) {
        sqlx::query("UPDATE customers SET name_sealed = $1 WHERE id = $2")
            .bind(name)
            .bind(id.0)
            .execute(store.pool())
            .await
            .expect("runs");
    }
    for id in [a, b] {
        let err = customers.customer(id).await.expect_err("a moved name");
        assert!(
            matches!(err, CustomerError::Decrypt { column: "customers.name", row } if row == id.0),
            "{err}"
        );
    }
    let c = customers
        .insert(customer("Carol", "C1", &["2003"]))
        .await
        .expect("valid");
    // Name into the email column of the same row.
    tamper(
        &store,
        "UPDATE customers SET email_sealed = name_sealed WHERE id = $1",
        &[c.0],
    )
    .await;
    let err = customers
        .lookup_by_phone("2003")
        .await
        .expect_err("a moved value");
    assert!(
        matches!(
            err,
            CustomerError::Decrypt {
                column: "customers.email",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn an_altered_blind_index_is_an_error_not_the_wrong_customer() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    let customers = Customers::new(&store, keys(6));
    let a = customers
        .insert(customer("Alice", "A1", &["2001"]))
        .await
        .expect("valid");
    let b = customers
        .insert(customer("Bob", "B1", &["2002"]))
        .await
        .expect("valid");
    // Point the index of Bob's number at Alice's phone row.
    let bob_index: String =
        sqlx::query_scalar("SELECT phone_index FROM customer_phones WHERE customer_id = $1")
            .bind(b.0)
            .fetch_one(store.pool())
            .await
            .expect("Bob has a phone");
    tamper(
        &store,
        "DELETE FROM customer_phones WHERE customer_id = $1",
        &[b.0],
    )
    .await;
    sqlx::query("UPDATE customer_phones SET phone_index = $1 WHERE customer_id = $2")
        .bind(&bob_index)
        .bind(a.0)
        .execute(store.pool())
        .await
        .expect("runs");
    let err = customers
        .lookup_by_phone("2002")
        .await
        .expect_err("index altered");
    assert!(
        matches!(err, CustomerError::IndexMismatch { row, .. } if row == a.0),
        "{err}"
    );
}

#[tokio::test]
async fn a_transaction_moved_to_another_customer_does_not_open() {
    let dir = temp_dir();
    let store = open_in(dir.path()).await;
    let customers = Customers::new(&store, keys(7));
    let a = customers
        .insert(customer("Alice", "A1", &["2001"]))
        .await
        .expect("valid");
    let b = customers
        .insert(customer("Bob", "B1", &["2002"]))
        .await
        .expect("valid");
    customers
        .add_transaction(a, order("O-1", TransactionStatus::Placed, 10))
        .await
        .expect("valid");
    tamper(
        &store,
        "UPDATE customer_transactions SET customer_id = $2 WHERE customer_id = $1",
        &[a.0, b.0],
    )
    .await;
    let err = customers
        .recent_transactions(b, 10)
        .await
        .expect_err("moved");
    assert!(
        matches!(
            err,
            CustomerError::Decrypt {
                column: "customer_transactions.reference",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn ivr_facts_count_open_orders_and_name_the_latest() {
    let dir = temp_dir();
    let customers = Customers::new(&open_in(dir.path()).await, keys(8));
    let id = customers
        .insert(customer("Ivy", "I1", &["3001"]))
        .await
        .expect("valid");
    let empty = customers.ivr_facts(id).await.expect("known customer");
    assert_eq!(
        (empty.tier, empty.open_orders, empty.last_order),
        (Tier::Gold, 0, None)
    );
    assert_eq!(empty.language.as_str(), "fr");
    for (reference, status, at) in [
        ("O-1", TransactionStatus::Delivered, 100),
        ("O-2", TransactionStatus::Shipped, 300),
        ("O-3", TransactionStatus::Placed, 200),
    ] {
        customers
            .add_transaction(id, order(reference, status, at))
            .await
            .expect("valid");
    }
    let mut payment = order("P-9", TransactionStatus::Paid, 900);
    payment.kind = TransactionKind::Payment;
    customers.add_transaction(id, payment).await.expect("valid");
    let facts = customers.ivr_facts(id).await.expect("known");
    assert_eq!(facts.open_orders, 2);
    assert_eq!(
        facts.last_order,
        Some(LastOrder {
            status: TransactionStatus::Shipped,
            created_at: 300,
            updated_at: 360
        })
    );
    // The same reference again updates the order in place.
    let mut delivered = order("O-2", TransactionStatus::Delivered, 300);
    delivered.updated_at = 500;
    customers
        .add_transaction(id, delivered)
        .await
        .expect("valid");
    let facts = customers.ivr_facts(id).await.expect("known");
    assert_eq!(facts.open_orders, 1);
    assert_eq!(
        facts.last_order.map(|o| (o.status, o.updated_at)),
        Some((TransactionStatus::Delivered, 500))
    );
    let unknown = customers.ivr_facts(CustomerId(12345)).await;
    assert!(matches!(
        unknown,
        Err(CustomerError::UnknownCustomer(CustomerId(12345)))
    ));
}

#[tokio::test]
async fn recent_transactions_open_newest_first_up_to_the_limit() {
    let dir = temp_dir();
    let customers = Customers::new(&open_in(dir.path()).await, keys(9));
    let id = customers
        .insert(customer("Tom", "T1", &["3002"]))
        .await
        .expect("valid");
    let mut refund = order("R-3", TransactionStatus::Refunded, 30);
    refund.amount.minor = -250;
    for t in [
        order("R-1", TransactionStatus::Placed, 10),
        refund,
        order("R-2", TransactionStatus::Failed, 20),
    ] {
        customers.add_transaction(id, t).await.expect("valid");
    }
    let recent = customers.recent_transactions(id, 2).await.expect("opens");
    let seen: Vec<(&str, i64, &str, TransactionStatus)> = recent
        .iter()
        .map(|t| {
            (
                t.reference.as_str(),
                t.amount.minor,
                t.amount.currency.as_str(),
                t.status,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("R-3", -250, "EUR", TransactionStatus::Refunded),
            ("R-2", 1999, "EUR", TransactionStatus::Failed)
        ]
    );
    assert!(recent.iter().all(|t| t.customer == id));
    assert!(
        customers
            .recent_transactions(CustomerId(1), 5)
            .await
            .expect("runs")
            .is_empty()
    );
    let bad = order("", TransactionStatus::Placed, 1);
    assert!(matches!(
        customers.add_transaction(id, bad).await,
        Err(CustomerError::InvalidValue {
            field: "reference",
            ..
        })
    ));
    let unknown = customers
        .add_transaction(CustomerId(1), order("X", TransactionStatus::Placed, 1))
        .await;
    assert!(matches!(unknown, Err(CustomerError::UnknownCustomer(_))));
}

#[tokio::test]
async fn insert_refuses_duplicates_and_bad_values() {
    let dir = temp_dir();
    let customers = Customers::new(&open_in(dir.path()).await, keys(10));
    let id = customers
        .insert(customer("Ann", "D-1", &["4001"]))
        .await
        .expect("valid");
    let dup = customers.insert(customer("Other", "d1", &["4002"])).await;
    assert!(
        matches!(dup, Err(CustomerError::DuplicateAccount(x)) if x == id),
        "{dup:?}"
    );
    let taken = customers
        .insert(customer("Other", "D2", &["4002", "4001"]))
        .await;
    assert!(
        matches!(taken, Err(CustomerError::PhoneTaken(x)) if x == id),
        "{taken:?}"
    );
    assert!(
        customers
            .lookup_by_phone("4002")
            .await
            .expect("runs")
            .is_none(),
        "nothing half-written"
    );
    let cases: [(NewCustomer, &str); 4] = [
        (customer(" ", "D3", &["4003"]), "invalid name"),
        (customer("X", "D3", &[]), "at least one phone"),
        (customer("X", "D3", &["12ab"]), "invalid phone"),
        (customer("X", "D_3", &["4003"]), "invalid account"),
    ];
    for (c, expected) in cases {
        let err = customers.insert(c).await.expect_err(expected).to_string();
        assert!(err.contains(expected), "{err}");
    }
    let mut bad_email = customer("X", "D3", &["4003"]);
    bad_email.email = Some("not an address".to_owned());
    assert!(matches!(
        customers.insert(bad_email).await,
        Err(CustomerError::InvalidValue { field: "email", .. })
    ));
}

#[tokio::test]
async fn seed_demo_is_deterministic_and_reaches_the_demo_extensions() {
    let (d1, d2) = (temp_dir(), temp_dir());
    let one = Customers::new(&open_in(d1.path()).await, keys(11));
    let two = Customers::new(&open_in(d2.path()).await, keys(12));
    assert_eq!(one.seed_demo(40, 7).await.expect("seeds"), 50);
    assert_eq!(two.seed_demo(40, 7).await.expect("seeds"), 50);
    assert_eq!(
        one.seed_demo(40, 7).await.expect("seeds again"),
        0,
        "idempotent"
    );
    for account in (100_001..=100_010).chain(2_000_000..2_000_040) {
        let a = one
            .lookup_by_account(&account.to_string())
            .await
            .expect("opens");
        let b = two
            .lookup_by_account(&account.to_string())
            .await
            .expect("opens");
        let a = a.unwrap_or_else(|| panic!("account {account} seeded"));
        assert_eq!(Some(&a), b.as_ref(), "account {account}");
        let ta = one.recent_transactions(a.id, 10).await.expect("opens");
        let tb = two.recent_transactions(a.id, 10).await.expect("opens");
        assert_eq!(ta, tb, "account {account}");
    }
    let other = Customers::new(&open_in(temp_dir().path()).await, keys(11));
    other.seed_demo(40, 8).await.expect("seeds");
    let mut differ = 0;
    for account in 2_000_000..2_000_040 {
        let a = one
            .lookup_by_account(&account.to_string())
            .await
            .expect("opens");
        let c = other
            .lookup_by_account(&account.to_string())
            .await
            .expect("opens");
        differ += usize::from(a.map(|c| c.name) != c.map(|c| c.name));
    }
    assert!(
        differ > 20,
        "another seed draws other names ({differ} differ)"
    );
}

#[tokio::test]
async fn demo_extensions_find_the_documented_customers() {
    let dir = temp_dir();
    let customers = Customers::new(&open_in(dir.path()).await, keys(13));
    customers.seed_demo(0, 1).await.expect("seeds");
    let expect = [
        ("1001", "Ada Lovelace", Tier::Vip, None),
        (
            "1002",
            "Grace Hopper",
            Tier::Gold,
            Some(TransactionStatus::Shipped),
        ),
        (
            "1003",
            "Alan Turing",
            Tier::Standard,
            Some(TransactionStatus::Delivered),
        ),
    ];
    for (ext, name, tier, status) in expect {
        let c = customers
            .lookup_by_phone(ext)
            .await
            .expect("opens")
            .expect("seeded");
        assert_eq!((c.name.as_str(), c.tier), (name, tier), "{ext}");
        let facts = customers.ivr_facts(c.id).await.expect("known");
        if let Some(status) = status {
            assert_eq!(facts.last_order.map(|o| o.status), Some(status), "{ext}");
        }
    }
    for demo in DEMO_CUSTOMERS {
        let c = customers
            .lookup_by_phone(demo.extension)
            .await
            .expect("opens")
            .expect("seeded");
        assert_eq!(c.name, demo.name);
        let by_mobile = customers.lookup_by_phone(demo.mobile).await.expect("opens");
        assert_eq!(by_mobile.map(|m| m.id), Some(c.id), "{}", demo.mobile);
        let open = demo
            .transactions
            .iter()
            .filter(|t| t.kind == TransactionKind::Order && t.status.is_open())
            .count();
        let facts = customers.ivr_facts(c.id).await.expect("known");
        assert_eq!(
            usize::try_from(facts.open_orders).ok(),
            Some(open),
            "{}",
            demo.extension
        );
    }
}

#[test]
fn debug_output_shows_no_sensitive_value() {
    let c = customer("Zyxquorth Plimsoll", "MRK93751", &["+15559876543"]);
    let shown = format!(
        "{c:?} {:?}",
        order("REFMARKER42", TransactionStatus::Placed, 1)
    );
    for marker in ["Zyxquorth", "MRK93751", "5559876543", "REFMARKER42", "1999"] {
        assert!(!shown.contains(marker), "{shown}");
    }
}

#[test]
fn key_files_load_or_say_exactly_what_is_wrong() {
    let dir = temp_dir();
    let write = |name: &str, text: &[u8], mode: u32| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("temp dir is writable");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let _ = mode;
        path
    };
    let hex = "ab".repeat(32);
    let from_hex = CustomerKeys::from_file(write("hex", format!("{hex}\n").as_bytes(), 0o600))
        .expect("hex key");
    let b64 = "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=";
    let from_b64 = CustomerKeys::from_file(write("b64", b64.as_bytes(), 0o640))
        .expect("base64 key, group may read");
    assert_eq!(
        from_hex.blind_index("t", "v"),
        from_b64.blind_index("t", "v"),
        "same 32 bytes"
    );
    let err = |name: &str, text: &[u8], mode| {
        CustomerKeys::from_file(write(name, text, mode))
            .expect_err(name)
            .to_string()
    };
    assert!(err("short", "ab".repeat(16).as_bytes(), 0o600).contains("16 bytes long, expected 32"));
    assert!(err("odd", b"abc", 0o600).contains("odd number of hex digits"));
    assert!(err("junk", b"not a key!", 0o600).contains("neither 64 hex digits nor base64"));
    assert!(err("zero", "00".repeat(32).as_bytes(), 0o600).contains("all zeros"));
    assert!(err("binary", &[0xff; 32], 0o600).contains("not text"));
    assert!(err("empty", b"\n", 0o600).contains("empty"));
    #[cfg(unix)]
    assert!(err("open", hex.as_bytes(), 0o644).contains("mode 644"));
    let missing = CustomerKeys::from_file(dir.path().join("absent")).expect_err("absent");
    assert!(matches!(missing, KeyError::MissingFile { .. }), "{missing}");
    let env = CustomerKeys::from_env("SWITCHYARD_TEST_NO_SUCH_KEY_VAR").expect_err("unset");
    assert!(matches!(env, KeyError::MissingEnv { .. }), "{env}");
    assert!(
        !err("named", b"zz", 0o600).contains("zz"),
        "errors do not echo key text"
    );
}

#[test]
fn generate_file_creates_a_private_key_once() {
    let dir = temp_dir();
    let path = dir.path().join("customer.key");
    let first = CustomerKeys::generate_file(&path).expect("created");
    let text = std::fs::read_to_string(&path).expect("readable");
    assert_eq!(text.trim().len(), 64);
    assert!(text.trim().bytes().all(|b| b.is_ascii_hexdigit()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
    }
    let again = CustomerKeys::generate_file(&path).expect("loaded, not replaced");
    assert_eq!(std::fs::read_to_string(&path).expect("readable"), text);
    assert_eq!(first.blind_index("t", "v"), again.blind_index("t", "v"));
    let other = CustomerKeys::generate_file(dir.path().join("other.key")).expect("created");
    assert_ne!(
        first.blind_index("t", "v"),
        other.blind_index("t", "v"),
        "random keys"
    );
}

/// Lookup latency by blind index over 100,000 customers, as recorded in
/// `docs/customers.md`. Run it with
/// `cargo test --release -p switchyard-cti --lib lookup_latency -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "a measurement, not a check: seeds 100,000 customers"]
async fn lookup_latency_over_100k_customers() {
    use std::time::Instant;
    const COUNT: usize = 100_000;
    const LOOKUPS: usize = 2_000;
    let dir = temp_dir();
    let customers = Customers::new(&open_in(dir.path()).await, keys(14));
    let started = Instant::now();
    let created = customers.seed_demo(COUNT, 1).await.expect("seeds");
    println!("seeded {created} customers in {:?}", started.elapsed());
    let mut pick = rows::IdGen::seeded(99);
    let report = |what: &str, mut samples: Vec<std::time::Duration>| {
        samples.sort();
        let total: std::time::Duration = samples.iter().sum();
        let at = |q: usize| samples[(samples.len() * q / 100).min(samples.len() - 1)];
        println!(
            "{what}: mean {:?}, p50 {:?}, p99 {:?} over {} lookups",
            total / u32::try_from(samples.len()).expect("few samples"),
            at(50),
            at(99),
            samples.len()
        );
    };
    for (what, hit) in [("by phone, found", true), ("by phone, not found", false)] {
        let mut samples = Vec::with_capacity(LOOKUPS);
        for _ in 0..LOOKUPS {
            let i = pick.below(COUNT as u64);
            let number = if hit {
                format!("+1555{:03}{:04}", (i / 10_000) % 1000, i % 10_000)
            } else {
                format!("+1666{:07}", i)
            };
            let t = Instant::now();
            let found = customers.lookup_by_phone(&number).await.expect("opens");
            samples.push(t.elapsed());
            assert_eq!(found.is_some(), hit, "{number}");
        }
        report(what, samples);
    }
    let mut samples = Vec::with_capacity(LOOKUPS);
    for _ in 0..LOOKUPS {
        let account = (2_000_000 + pick.below(COUNT as u64)).to_string();
        let t = Instant::now();
        let found = customers.lookup_by_account(&account).await.expect("opens");
        samples.push(t.elapsed());
        assert!(found.is_some(), "{account}");
    }
    report("by account, found", samples);
    let mut samples = Vec::with_capacity(LOOKUPS);
    for _ in 0..LOOKUPS {
        let account = (2_000_000 + pick.below(COUNT as u64)).to_string();
        let c = customers
            .lookup_by_account(&account)
            .await
            .expect("opens")
            .expect("seeded");
        let t = Instant::now();
        customers.ivr_facts(c.id).await.expect("known");
        customers.recent_transactions(c.id, 5).await.expect("opens");
        samples.push(t.elapsed());
    }
    report("ivr_facts + recent_transactions(5)", samples);
}
