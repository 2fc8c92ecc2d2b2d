//! CSV import tests: reports, idempotence, transactions, and a fuzz of the
//! importer with arbitrary input.

use proptest::prelude::*;

use super::tests::{keys, open_in, temp_dir};
use super::*;

const CUSTOMERS_CSV: &str = "\
account,name,phones,email,tier,language
A-100,Ada Lovelace,+1 555 010 0100;1001,ada@example.com,vip,en
A-101,Bad Phone,555-CALL-NOW,,gold,en
A-102,,+15550100102,,standard,en
A-100,Ada Again,+15550100103,,standard,en
A-104,Too Few Fields,+15550100104
A-105,\"Quote\"d\",+15550100105,,,
A-106,\"Hopper, Grace\",\"+1 555 010 0106\",grace@example.com,GOLD,es-419
A-107,Bad Email,+15550100107,not-an-address,,
A-108,Bad Tier,+15550100108,,platinum,
A-109,Bad Language,+15550100109,,,english!
A-110,Plain,5550100110,,,
";

fn reasons(report: &ImportReport) -> Vec<(usize, &str)> {
    report
        .rejected
        .iter()
        .map(|r| (r.line, r.reason.as_str()))
        .collect()
}

#[tokio::test]
async fn bad_rows_are_reported_by_line_and_reason_and_good_rows_imported() {
    let dir = temp_dir();
    let customers = Customers::new(&open_in(dir.path()).await, keys(21));
    let report = customers
        .import_csv(CUSTOMERS_CSV.as_bytes())
        .await
        .expect("imports");
    assert_eq!(report.kind, ImportKind::Customers);
    assert_eq!((report.imported, report.updated), (3, 0));
    assert_eq!(
        reasons(&report),
        [
            (
                3,
                "invalid phone number: only digits, spaces, - . / ( ) and a leading + are allowed"
            ),
            (4, "invalid name: it is empty"),
            (5, "the account number already appears on line 2"),
            (6, "expected 6 fields, found 3"),
            (7, "malformed CSV: text after a closing quote"),
            (
                9,
                "invalid email: expected an address such as name@example.com"
            ),
            (10, "invalid tier: expected one of: standard gold vip"),
            (
                11,
                "invalid language: expected a language tag such as en, fr or pt-BR"
            ),
        ]
    );
    let ada = customers
        .lookup_by_phone("1001")
        .await
        .expect("opens")
        .expect("imported");
    assert_eq!((ada.name.as_str(), ada.tier), ("Ada Lovelace", Tier::Vip));
    let grace = customers
        .lookup_by_account("a106")
        .await
        .expect("opens")
        .expect("imported");
    assert_eq!(grace.name, "Hopper, Grace");
    assert_eq!(
        (grace.tier, grace.language.as_str()),
        (Tier::Gold, "es-419")
    );
    let plain = customers
        .lookup_by_phone("+15550100110")
        .await
        .expect("opens")
        .expect("imported");
    assert_eq!(
        (plain.tier, plain.language.as_str(), plain.email),
        (Tier::Standard, "en", None)
    );
    for rejected in [
        "A-101", "A-102", "A-104", "A-105", "A-107", "A-108", "A-109",
    ] {
        assert!(
            customers
                .lookup_by_account(rejected)
                .await
                .expect("runs")
                .is_none(),
            "{rejected}"
        );
    }
    assert!(
        customers
            .lookup_by_phone("+15550100103")
            .await
            .expect("runs")
            .is_none()
    );
    let shown = report.to_string();
    assert!(
        shown.starts_with("imported 3 customers (0 updated), rejected 8"),
        "{shown}"
    );
    assert!(
        shown.contains("\n  line 6: expected 6 fields, found 3"),
        "{shown}"
    );
}

#[tokio::test]
async fn reimport_updates_customers_by_account_number() {
    let dir = temp_dir();
    let customers = Customers::new(&open_in(dir.path()).await, keys(22));
    let first = "account,name,phones\nX1,Old Name,+15550200001;2001\nX2,Other,2002\n";
    let report = customers
        .import_csv(first.as_bytes())
        .await
        .expect("imports");
    assert_eq!(
        (report.imported, report.updated, report.rejected.len()),
        (2, 0, 0)
    );
    let before = customers
        .lookup_by_account("X1")
        .await
        .expect("opens")
        .expect("imported");
    // Columns in another order; X1 changes name, tier and phones.
    let second = "phones,tier,account,name\n2003,gold,x1,New Name\n2002,,X3,Thief\n";
    let report = customers
        .import_csv(second.as_bytes())
        .await
        .expect("imports");
    assert_eq!((report.imported, report.updated), (1, 1));
    assert_eq!(reasons(&report).len(), 1);
    assert_eq!(report.rejected[0].line, 3);
    assert!(
        report.rejected[0]
            .reason
            .starts_with("the phone number belongs to customer"),
        "{report}"
    );
    let after = customers
        .lookup_by_phone("2003")
        .await
        .expect("opens")
        .expect("updated");
    assert_eq!(
        (after.id, after.name.as_str(), after.tier),
        (before.id, "New Name", Tier::Gold)
    );
    assert!(
        customers
            .lookup_by_phone("2001")
            .await
            .expect("runs")
            .is_none(),
        "old phone dropped"
    );
    assert!(
        customers
            .lookup_by_phone("+15550200001")
            .await
            .expect("runs")
            .is_none()
    );
    // Importing the same file again changes nothing but counts updates.
    let again = customers
        .import_csv(second.as_bytes())
        .await
        .expect("imports");
    assert_eq!(
        (again.imported, again.updated, again.rejected.len()),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn transaction_files_attach_orders_by_account_and_update_on_reimport() {
    let dir = temp_dir();
    let customers = Customers::new(&open_in(dir.path()).await, keys(23));
    let people = "account,name,phones\nC1,Cara,3001\n";
    customers
        .import_csv(people.as_bytes())
        .await
        .expect("imports");
    let orders = "\
account,kind,reference,amount_minor,currency,status,created,updated
C1,order,ORD-1,1999,EUR,placed,2025-05-01,
C1,order,ORD-2,500,EUR,shipped,2025-05-02T09:30:00Z,2025-05-03
C1,order,ORD-3,19.99,EUR,placed,2025-05-03,
C9,order,ORD-4,100,EUR,placed,2025-05-03,
C1,order,ORD-5,100,EURO,placed,2025-05-03,
C1,order,ORD-6,100,EUR,lost,2025-05-03,
C1,order,ORD-7,100,EUR,placed,3 May 2025,
C1,order,ORD-1,1999,EUR,placed,2025-05-01,
C1,payment,ORD-1,1999,EUR,paid,2025-05-01,
C1,order,ORD-8,100,EUR,shipped,2025-05-04,2025-05-01
";
    let report = customers
        .import_csv(orders.as_bytes())
        .await
        .expect("imports");
    assert_eq!(report.kind, ImportKind::Transactions);
    assert_eq!((report.imported, report.updated), (3, 0));
    assert_eq!(
        reasons(&report),
        [
            (
                4,
                "invalid amount_minor: expected a whole number of minor units, such as 1999 for 19.99"
            ),
            (5, "no customer has this account number"),
            (
                6,
                "invalid currency: expected a three-letter ISO 4217 code such as EUR"
            ),
            (
                7,
                "invalid status: expected one of: placed shipped delivered paid refunded failed cancelled"
            ),
            (
                8,
                "invalid created: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"
            ),
            (9, "the transaction already appears on line 2"),
            (11, "invalid updated: it is before the creation date"),
        ]
    );
    let cara = customers
        .lookup_by_phone("3001")
        .await
        .expect("opens")
        .expect("imported");
    let facts = customers.ivr_facts(cara.id).await.expect("known");
    assert_eq!(facts.open_orders, 2);
    let last = facts.last_order.expect("has orders");
    assert_eq!(
        (last.status, last.created_at, last.updated_at),
        (TransactionStatus::Shipped, 1_746_178_200, 1_746_230_400)
    );
    let shipped = "account,kind,reference,amount_minor,currency,status,created,updated\n\
                   C1,order,ORD-1,1999,EUR,delivered,2025-05-01,2025-05-04\n";
    let report = customers
        .import_csv(shipped.as_bytes())
        .await
        .expect("imports");
    assert_eq!((report.imported, report.updated), (1, 1));
    assert_eq!(
        customers
            .ivr_facts(cara.id)
            .await
            .expect("known")
            .open_orders,
        1
    );
    let all = customers
        .recent_transactions(cara.id, 10)
        .await
        .expect("opens");
    assert_eq!(all.len(), 3, "updated in place, not duplicated");
}

#[tokio::test]
async fn a_file_without_a_usable_header_writes_nothing() {
    let dir = temp_dir();
    let customers = Customers::new(&open_in(dir.path()).await, keys(24));
    for (input, line, needle) in [
        ("", 1, "a header row is required"),
        ("\n\n", 1, "a header row is required"),
        ("A1,Ada,1001\n", 1, "a header row is required"),
        (
            "account,name,phones,age\nA1,Ada,1001,36\n",
            1,
            "unknown column \"age\"",
        ),
        ("account,name\nA1,Ada\n", 1, "missing column \"phones\""),
        (
            "\naccount,name,name,phones\n",
            2,
            "column \"name\" appears twice",
        ),
        ("account,\"name\nphones\n", 1, "malformed header"),
    ] {
        let err = customers
            .import_csv(input.as_bytes())
            .await
            .expect_err(input);
        match &err {
            CustomerError::CsvHeader { line: l, reason } => {
                assert_eq!(*l, line, "{input:?}");
                assert!(reason.contains(needle), "{input:?}: {reason}");
            }
            other => panic!("{input:?}: {other}"),
        }
    }
    assert!(
        customers
            .lookup_by_phone("1001")
            .await
            .expect("runs")
            .is_none()
    );
}

/// Text that is often close to a valid file: a real header, then rows made
/// of field-like fragments, quotes, separators and line breaks.
fn csv_like() -> impl Strategy<Value = Vec<u8>> {
    let header = prop_oneof![
        Just("account,name,phones,email,tier,language\n"),
        Just("account,kind,reference,amount_minor,currency,status,created,updated\n"),
        Just(""),
    ];
    let fragment = prop_oneof![
        Just(",".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\"".to_owned()),
        Just(";".to_owned()),
        "[+0-9 ()-]{0,16}",
        "[A-Za-z@._ -]{0,12}",
        Just("2025-05-01".to_owned()),
        Just("order".to_owned()),
        Just("vip".to_owned()),
        ".{0,4}",
    ];
    (header, prop::collection::vec(fragment, 0..60)).prop_map(|(h, parts)| {
        let mut bytes = h.as_bytes().to_vec();
        bytes.extend(parts.concat().into_bytes());
        bytes
    })
}

#[test]
fn the_importer_never_panics_on_arbitrary_input() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    let dir = temp_dir();
    let customers =
        runtime.block_on(async { Customers::new(&open_in(dir.path()).await, keys(25)) });
    let input = prop_oneof![csv_like(), prop::collection::vec(any::<u8>(), 0..300)];
    let config = ProptestConfig {
        cases: 200,
        ..ProptestConfig::default()
    };
    proptest!(config, |(bytes in input)| {
        match runtime.block_on(customers.import_csv(bytes.as_slice())) {
            Ok(report) => {
                let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
                prop_assert!(report.rejected.iter().all(|r| r.line >= 2 && r.line <= lines));
                prop_assert!(report.rejected.windows(2).all(|w| w[0].line <= w[1].line));
            }
            Err(CustomerError::CsvHeader { line, .. }) => prop_assert!(line >= 1),
            Err(other) => prop_assert!(false, "unexpected error: {other}"),
        }
    });
}

proptest! {
    #[test]
    fn the_csv_reader_never_panics_and_lines_only_grow(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let records = super::csv::records(&bytes);
        let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
        prop_assert!(records.windows(2).all(|w| w[0].line < w[1].line));
        prop_assert!(records.iter().all(|r| r.line >= 1 && r.line <= lines));
    }
}
