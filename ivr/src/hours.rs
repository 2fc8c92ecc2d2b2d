//! Business hours: weekly opening intervals in a named time zone, and holidays.
//!
//! A [`Schedule`] is compiled once with its [`jiff::tz::TimeZone`] resolved from
//! the time zone database bundled into the binary, so evaluating it is pure: the
//! wall-clock instant comes in as a [`jiff::Timestamp`], is converted to the
//! zone's civil time (which is where DST is handled: 08:00 means 08:00 on the
//! local clock, whatever the UTC offset that day), and the civil date and time
//! are compared with the holiday list and the weekday's intervals.
//!
//! Intervals are `HH:MM-HH:MM`, start included, end excluded; `24:00` ends at
//! midnight. An interval cannot cross midnight: write `22:00-24:00` on one day
//! and `00:00-02:00` on the next. Holidays are dates (`2026-12-25`, closed that
//! whole local day) or `MM-DD` strings (closed on that day every year).

use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

/// Whether a schedule is open at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoursState {
    /// Inside an opening interval on a working day.
    Open,
    /// Outside every interval (not a holiday).
    Closed,
    /// The local date is a holiday.
    Holiday,
}

/// Opening hours of one named schedule (`[hours.NAME]` in a flow file).
#[derive(Debug, Clone)]
pub struct Schedule {
    pub(crate) name: Arc<str>,
    zone: TimeZone,
    /// Open intervals `[start, end)` in minutes since local midnight, Monday first.
    days: [Vec<(u16, u16)>; 7],
    /// Holidays on one date.
    dates: Vec<Date>,
    /// Holidays every year, as (month, day).
    yearly: Vec<(i8, i8)>,
}

impl Schedule {
    /// An always-closed schedule in `zone`; intervals and holidays are added after.
    pub(crate) fn new(name: &str, zone: TimeZone) -> Self {
        Self {
            name: Arc::from(name),
            zone,
            days: Default::default(),
            dates: Vec::new(),
            yearly: Vec::new(),
        }
    }

    /// The schedule's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn add_interval(&mut self, day: usize, interval: (u16, u16)) {
        if let Some(list) = self.days.get_mut(day) {
            list.push(interval);
        }
    }

    pub(crate) fn add_holiday(&mut self, holiday: Holiday) {
        match holiday {
            Holiday::Date(d) => self.dates.push(d),
            Holiday::Yearly(m, d) => self.yearly.push((m, d)),
        }
    }

    /// Open, closed or holiday at `wall`.
    #[must_use]
    pub fn state(&self, wall: Timestamp) -> HoursState {
        let local = self.zone.to_datetime(wall);
        let date = local.date();
        if self.dates.contains(&date) || self.yearly.contains(&(date.month(), date.day())) {
            return HoursState::Holiday;
        }
        let day = usize::from(local.weekday().to_monday_zero_offset().unsigned_abs());
        let minute = u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute()))
            .unwrap_or(u16::MAX);
        let open = self
            .days
            .get(day)
            .is_some_and(|list| list.iter().any(|&(s, e)| s <= minute && minute < e));
        if open {
            HoursState::Open
        } else {
            HoursState::Closed
        }
    }
}

/// One entry of a `holidays` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holiday {
    Date(Date),
    Yearly(i8, i8),
}

/// Resolves a time zone name (`Europe/Madrid`, `UTC`) from the bundled database.
pub(crate) fn zone(name: &str) -> Option<TimeZone> {
    jiff::tz::TimeZoneDatabase::bundled().get(name).ok()
}

/// The weekdays (Monday = 0) a key names: `mon`, or a range such as `mon-fri`
/// (a range may wrap past Sunday: `fri-mon`).
pub(crate) fn day_key(key: &str) -> Option<Vec<usize>> {
    let (first, last) = match key.split_once('-') {
        Some((a, b)) => (weekday(a)?, weekday(b)?),
        None => {
            let d = weekday(key)?;
            (d, d)
        }
    };
    let len = (last + 7 - first) % 7 + 1;
    Some((0..len).map(|i| (first + i) % 7).collect())
}

fn weekday(s: &str) -> Option<usize> {
    let days = [
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
        Weekday::Sunday,
    ];
    let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let i = names.iter().position(|n| *n == s)?;
    days.get(i)
        .map(|d| usize::from(d.to_monday_zero_offset().unsigned_abs()))
}

/// Parses `HH:MM-HH:MM` into minutes since midnight.
pub(crate) fn interval(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("`{s}` is not an interval HH:MM-HH:MM");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let start = clock(a.trim()).ok_or_else(bad)?;
    let end = clock(b.trim()).ok_or_else(bad)?;
    if end <= start {
        return Err(format!(
            "`{s}` ends before it starts (an interval cannot cross midnight: split it at 24:00)"
        ));
    }
    Ok((start, end))
}

/// `HH:MM` (00:00 to 24:00) in minutes.
fn clock(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h * 60 + m;
    (m < 60 && minutes <= 24 * 60).then_some(minutes)
}

/// Parses a holiday written as a string: `YYYY-MM-DD` or yearly `MM-DD`.
pub(crate) fn holiday(s: &str) -> Option<Holiday> {
    if let Ok(d) = s.parse::<Date>() {
        return Some(Holiday::Date(d));
    }
    let (m, d) = s.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d): (i8, i8) = (m.parse().ok()?, d.parse().ok()?);
    // 2024 is a leap year, so 02-29 is accepted.
    Date::new(2024, m, d).ok()?;
    Some(Holiday::Yearly(m, d))
}

#[cfg(test)]
mod tests {
    use super::{Holiday, day_key, holiday, interval};

    #[test]
    fn day_keys_and_ranges() {
        assert_eq!(day_key("mon"), Some(vec![0]));
        assert_eq!(day_key("mon-fri"), Some(vec![0, 1, 2, 3, 4]));
        assert_eq!(day_key("fri-mon"), Some(vec![4, 5, 6, 0]));
        assert_eq!(day_key("sun"), Some(vec![6]));
        assert_eq!(day_key("monday"), None);
        assert_eq!(day_key("mon-xyz"), None);
    }

    #[test]
    fn intervals_and_holidays_parse() {
        assert_eq!(interval("08:00-18:00"), Ok((480, 1080)));
        assert_eq!(interval("22:00-24:00"), Ok((1320, 1440)));
        assert!(interval("18:00-08:00").is_err());
        assert!(interval("8:00-18:00").is_err());
        assert!(interval("08:60-18:00").is_err());
        assert!(interval("08:00-24:01").is_err());
        assert_eq!(holiday("12-25"), Some(Holiday::Yearly(12, 25)));
        assert_eq!(holiday("02-30"), None);
        assert!(matches!(holiday("2026-01-01"), Some(Holiday::Date(_))));
        assert_eq!(holiday("2026-13-01"), None);
    }
}
