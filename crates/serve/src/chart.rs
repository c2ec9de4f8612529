//! The trend chart as inline SVG (no script, no external asset): open
//! findings per day as a polyline over a baseline, with the first and last
//! day and the peak labelled.

use crate::view::Trend;

/// The chart of `t`, `w`×`h` pixels.
pub fn svg(t: &Trend, w: u32, h: u32) -> String {
    let n = t.open.len().max(1);
    let max = t.open.iter().copied().max().unwrap_or(0).max(1);
    let (left, right, top, bottom) = (40.0, 10.0, 10.0, 20.0);
    let pw = f64::from(w) - left - right;
    let ph = f64::from(h) - top - bottom;
    let x = |i: usize| {
        left + if n > 1 {
            pw * i as f64 / (n - 1) as f64
        } else {
            0.0
        }
    };
    let y = |v: usize| top + ph - ph * v as f64 / max as f64;
    let points: Vec<String> = t
        .open
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
        .collect();
    let first = t.days.first().cloned().unwrap_or_default();
    let last = t.days.last().cloned().unwrap_or_default();
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"trend\" role=\"img\" aria-label=\"open findings per day, {first} to {last}\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">\
<line x1=\"{left}\" y1=\"{base:.1}\" x2=\"{xr:.1}\" y2=\"{base:.1}\" stroke=\"#d0d7de\"/>\
<text x=\"{lx}\" y=\"{ty:.1}\" font-size=\"11\" text-anchor=\"end\">{max}</text>\
<text x=\"{lx}\" y=\"{base:.1}\" font-size=\"11\" text-anchor=\"end\">0</text>\
<polyline class=\"series\" fill=\"none\" stroke=\"#cf222e\" stroke-width=\"2\" points=\"{pts}\"/>\
<text x=\"{left}\" y=\"{by}\" font-size=\"11\">{first}</text>\
<text x=\"{xr:.1}\" y=\"{by}\" font-size=\"11\" text-anchor=\"end\">{last}</text></svg>",
        base = top + ph,
        xr = left + pw,
        lx = left - 4.0,
        ty = top + 10.0,
        by = h - 4,
        pts = points.join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_series_has_a_point_per_day_scaled_to_the_peak() {
        let t = Trend {
            days: vec![
                "2026-12-05".into(),
                "2026-12-06".into(),
                "2026-12-07".into(),
            ],
            open: vec![0, 4, 2],
        };
        let s = svg(&t, 140, 60);
        assert!(
            s.contains("points=\"40.0,40.0 85.0,10.0 130.0,25.0\""),
            "{s}"
        );
        assert!(s.contains(">4</text>") && s.contains("2026-12-07"));
    }
}
