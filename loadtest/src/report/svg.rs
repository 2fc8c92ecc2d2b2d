//! Small hand-written SVG charts: line charts over time and bar histograms,
//! each a self-contained `<svg>` element.

use std::fmt::Write as _;

const W: f64 = 720.0;
const H: f64 = 260.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 44.0;

/// One line of a line chart.
pub(crate) struct Series<'a> {
    /// Legend text.
    pub(crate) name: &'a str,
    /// CSS colour.
    pub(crate) color: &'a str,
    /// (x, y) points, x increasing.
    pub(crate) points: Vec<(f64, f64)>,
}

/// Escapes text for XML.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The smallest 1-2-5 step value at or above `v` (1 for non-positive `v`).
pub(crate) fn nice_max(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let decade = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * decade)
        .find(|c| *c >= v * 0.999_999)
        .unwrap_or(10.0 * decade)
}

/// Grid divisions that give round tick values for a 1-2-5 maximum.
fn divisions(max: f64) -> u32 {
    let lead = max / 10f64.powf(max.log10().floor());
    if (lead - 2.0).abs() < 1e-9 { 4 } else { 5 }
}

fn fmt_num(v: f64) -> String {
    if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn frame(out: &mut String, title: &str, x_label: &str, y_label: &str, y_max: f64) {
    let _ = write!(
        out,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="{t}">"#,
        t = esc(title)
    );
    let _ = write!(
        out,
        r#"<text x="{LEFT}" y="18" class="title">{}</text>"#,
        esc(title)
    );
    let (x0, y0, x1, y1) = (LEFT, TOP, W - RIGHT, H - BOTTOM);
    let steps = divisions(y_max);
    for i in 0..=steps {
        let v = y_max * f64::from(i) / f64::from(steps);
        let y = y1 - (y1 - y0) * f64::from(i) / f64::from(steps);
        let _ = write!(
            out,
            r##"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" class="tick">{}</text>"##,
            x0 - 6.0,
            y + 4.0,
            fmt_num(v)
        );
    }
    let _ = write!(
        out,
        r##"<line x1="{x0}" y1="{y1}" x2="{x1}" y2="{y1}" stroke="#333"/><line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>"##
    );
    let _ = write!(
        out,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="axis">{}</text>"#,
        (x0 + x1) / 2.0,
        H - 8.0,
        esc(x_label)
    );
    let _ = write!(
        out,
        r#"<text x="14" y="{:.1}" text-anchor="middle" class="axis" transform="rotate(-90 14 {:.1})">{}</text>"#,
        (y0 + y1) / 2.0,
        (y0 + y1) / 2.0,
        esc(y_label)
    );
}

/// A line chart of `series` against a shared x axis.
pub(crate) fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
) -> String {
    let all = series.iter().flat_map(|s| s.points.iter());
    let x_max = nice_max(all.clone().map(|p| p.0).fold(0.0, f64::max));
    let y_max = nice_max(all.map(|p| p.1).fold(0.0, f64::max));
    let mut out = String::new();
    frame(&mut out, title, x_label, y_label, y_max);
    let (x0, y0, x1, y1) = (LEFT, TOP, W - RIGHT, H - BOTTOM);
    for i in 0..=5 {
        let v = x_max * f64::from(i) / 5.0;
        let x = x0 + (x1 - x0) * f64::from(i) / 5.0;
        let _ = write!(
            out,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
            y1 + 16.0,
            fmt_num(v)
        );
    }
    for (n, s) in series.iter().enumerate() {
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    x0 + (x1 - x0) * x / x_max,
                    y1 - (y1 - y0) * y / y_max
                )
            })
            .collect();
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{c}" stroke-width="1.6" points="{p}"/>"#,
            c = esc(s.color),
            p = pts.join(" ")
        );
        let lx = x1 - 180.0;
        let ly = y0 + 14.0 * n as f64 + 6.0;
        let _ = write!(
            out,
            r#"<rect x="{lx}" y="{:.1}" width="12" height="3" fill="{c}"/><text x="{:.1}" y="{:.1}" class="legend">{}</text>"#,
            ly - 3.0,
            lx + 16.0,
            ly + 1.0,
            esc(s.name),
            c = esc(s.color)
        );
    }
    out.push_str("</svg>");
    out
}

/// A bar chart: one bar per label.
pub(crate) fn bar_chart(
    title: &str,
    x_label: &str,
    labels: &[String],
    counts: &[u64],
    color: &str,
) -> String {
    let y_max = nice_max(counts.iter().copied().max().unwrap_or(0) as f64);
    let mut out = String::new();
    frame(&mut out, title, x_label, "count", y_max);
    let (x0, y0, x1, y1) = (LEFT, TOP, W - RIGHT, H - BOTTOM);
    let n = counts.len().max(1) as f64;
    let slot = (x1 - x0) / n;
    let every = (counts.len() / 12).max(1);
    for (i, (&c, label)) in counts.iter().zip(labels).enumerate() {
        let h = (y1 - y0) * c as f64 / y_max;
        let x = x0 + slot * i as f64;
        let _ = write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{h:.1}" fill="{}"><title>{}: {c}</title></rect>"#,
            x + 1.0,
            y1 - h,
            (slot - 2.0).max(1.0),
            esc(color),
            esc(label)
        );
        if i % every == 0 {
            let _ = write!(
                out,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="tick">{}</text>"#,
                x + slot / 2.0,
                y1 + 16.0,
                esc(label)
            );
        }
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_maxima() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(10.0), 10.0);
        assert_eq!(nice_max(11.0), 20.0);
        assert_eq!(nice_max(430.0), 500.0);
        assert_eq!(
            (divisions(5.0), divisions(20.0), divisions(100.0)),
            (5, 4, 5)
        );
    }

    #[test]
    fn charts_are_one_svg_element_with_escaped_text() {
        let s = line_chart(
            "calls <per> second",
            "s",
            "calls",
            &[Series {
                name: "a&b",
                color: "#c00",
                points: vec![(0.0, 1.0), (1.0, 3.0)],
            }],
        );
        assert!(s.starts_with("<svg") && s.ends_with("</svg>"));
        assert_eq!(s.matches("<svg").count(), 1);
        assert!(s.contains("calls &lt;per&gt; second") && s.contains("a&amp;b"));
        assert!(s.contains("<polyline"));
        let b = bar_chart("h", "ms", &["0".into(), "1".into()], &[3, 5], "#06c");
        assert_eq!(b.matches("<rect").count(), 2);
    }
}
