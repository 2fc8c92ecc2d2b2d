//! Business hours at their edges: midnight, DST changes, holidays, other zones,
//! and a branch on them in a running flow.

mod common;

use std::path::Path;

use common::{Call, set};
use ivr::jiff::Timestamp;
use ivr::{Flow, HoursState};

fn schedule_flow(hours: &str) -> Flow {
    let text = format!("[hours.office]\n{hours}\n\n[steps.end]\ntype = \"hangup\"\n");
    match Flow::compile("h", &text, Path::new("h.toml")) {
        Ok(f) => f,
        Err(d) => panic!("{d:?}"),
    }
}

fn at(ts: &str) -> Timestamp {
    ts.parse().expect("valid timestamp")
}

fn check(hours: &str, cases: &[(&str, HoursState)]) {
    let flow = schedule_flow(hours);
    let schedule = &flow.schedules()[0];
    for (ts, want) in cases {
        assert_eq!(schedule.state(at(ts)), *want, "{hours} at {ts}");
    }
}

const NEW_YORK: &str =
    "zone = \"America/New_York\"\nmon-fri = \"08:00-18:00\"\nholidays = [2026-07-03, \"12-25\"]";

#[test]
fn opening_and_closing_minutes_on_the_local_clock() {
    use HoursState::*;
    check(
        NEW_YORK,
        &[
            // Tuesday 2026-01-06, EST (UTC-5).
            ("2026-01-06T12:59:59Z", Closed),
            ("2026-01-06T13:00:00Z", Open),
            ("2026-01-06T22:59:59Z", Open),
            ("2026-01-06T23:00:00Z", Closed),
            // Saturday.
            ("2026-01-10T15:00:00Z", Closed),
        ],
    );
}

#[test]
fn dst_moves_the_utc_opening_time() {
    use HoursState::*;
    check(
        NEW_YORK,
        &[
            // Friday 2026-03-06 is still EST: 12:30Z is 07:30 local.
            ("2026-03-06T12:30:00Z", Closed),
            // Monday 2026-03-09 is EDT (since Sunday 2026-03-08): 12:30Z is 08:30 local.
            ("2026-03-09T12:30:00Z", Open),
            ("2026-03-09T11:59:59Z", Closed),
            // Friday 2026-10-30 is EDT, Monday 2026-11-02 EST again.
            ("2026-10-30T12:00:00Z", Open),
            ("2026-11-02T12:59:00Z", Closed),
            ("2026-11-02T13:00:00Z", Open),
        ],
    );
}

#[test]
fn intervals_across_the_dst_transition_itself() {
    use HoursState::*;
    // Spring forward: 02:00-03:00 does not exist on 2026-03-08 in New York.
    check(
        "zone = \"America/New_York\"\nsun = \"01:00-03:00\"",
        &[
            ("2026-03-08T06:00:00Z", Open),   // 01:00 EST
            ("2026-03-08T06:59:59Z", Open),   // 01:59:59 EST
            ("2026-03-08T07:00:00Z", Closed), // 03:00 EDT
        ],
    );
    // Fall back: 01:00-02:00 happens twice on 2026-11-01.
    check(
        "zone = \"America/New_York\"\nsun = \"01:00-02:00\"",
        &[
            ("2026-11-01T04:59:59Z", Closed), // 00:59:59 EDT
            ("2026-11-01T05:30:00Z", Open),   // 01:30 EDT
            ("2026-11-01T06:30:00Z", Open),   // 01:30 EST
            ("2026-11-01T07:00:00Z", Closed), // 02:00 EST
        ],
    );
}

#[test]
fn midnight_ends_one_day_and_starts_the_next() {
    use HoursState::*;
    check(
        "zone = \"America/New_York\"\nfri = \"20:00-24:00\"\nsat = \"00:00-01:00\"\nsun = \"09:00-10:00\"",
        &[
            ("2026-01-10T04:59:59Z", Open),   // Fri 23:59:59
            ("2026-01-10T05:00:00Z", Open),   // Sat 00:00
            ("2026-01-10T06:00:00Z", Closed), // Sat 01:00
            ("2026-01-11T05:00:00Z", Closed), // Sun 00:00
        ],
    );
}

#[test]
fn holidays_follow_the_local_date() {
    use HoursState::*;
    check(
        NEW_YORK,
        &[
            ("2026-07-02T14:00:00Z", Open),
            ("2026-07-03T03:59:59Z", Closed),  // Thu 23:59:59 EDT
            ("2026-07-03T04:00:00Z", Holiday), // Fri 00:00 EDT
            ("2026-07-03T14:00:00Z", Holiday),
            ("2026-07-04T03:59:59Z", Holiday), // Fri 23:59:59 EDT
            ("2026-12-25T15:00:00Z", Holiday), // yearly, a Friday
            ("2027-12-25T15:00:00Z", Holiday), // yearly, a Saturday
            ("2027-07-03T14:00:00Z", Closed), // the dated holiday is 2026 only (a Saturday in 2027)
        ],
    );
}

#[test]
fn zones_without_dst_and_half_hour_offsets() {
    use HoursState::*;
    check(
        "zone = \"Asia/Kolkata\"\nmon-fri = [\"09:00-13:00\", \"14:00-17:30\"]",
        &[
            ("2026-03-09T03:29:59Z", Closed), // 08:59:59 IST
            ("2026-03-09T03:30:00Z", Open),   // 09:00
            ("2026-03-09T07:45:00Z", Closed), // 13:15, lunch
            ("2026-03-09T11:59:00Z", Open),   // 17:29
            ("2026-03-09T12:00:00Z", Closed), // 17:30
        ],
    );
}

#[test]
fn a_branch_routes_by_the_hours_at_the_wall_time_it_is_given() {
    let flow = r#"
[hours.office]
zone = "Europe/Madrid"
mon-fri = "09:00-14:00"
holidays = ["01-06"]

[steps.route]
type = "branch"
cases = [
  { holiday = "office", goto = "holiday" },
  { open = "office", goto = "open" },
]
else = "closed"

[steps.open]
type = "hangup"
[steps.closed]
type = "hangup"
[steps.holiday]
type = "hangup"
"#;
    let set = set(&[("main", flow)]);
    for (ts, step) in [
        ("2026-01-06T10:00:00Z", "holiday"),
        ("2026-01-07T07:59:00Z", "closed"), // 08:59 CET
        ("2026-01-07T08:00:00Z", "open"),   // 09:00 CET
        ("2026-06-03T07:00:00Z", "open"),   // 09:00 CEST
        ("2026-06-03T12:00:00Z", "closed"), // 14:00 CEST
    ] {
        let call = Call::start(&set, "main", "+34", at(ts));
        assert_eq!(call.steps(), ["route", step], "at {ts}");
    }
}
