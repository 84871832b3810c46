//! `report.html`: one self-contained page (inline CSS and SVG, no script,
//! no external asset) for a person to read.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, Utc};

use crate::bundle::RequestStats;
use crate::controls::{ControlSection, Status};
use crate::facts::{Gathered, RequestFact};

/// Identity of the bundle, shown in the header.
pub(crate) struct Meta {
    pub(crate) origin: String,
    pub(crate) ledger_id: String,
    pub(crate) from: NaiveDate,
    pub(crate) to: NaiveDate,
    pub(crate) generated_at: DateTime<Utc>,
    pub(crate) checkpoint_size: u64,
    pub(crate) checkpoint_root: String,
    pub(crate) verified: bool,
    pub(crate) records: u64,
    pub(crate) records_in_period: u64,
}

pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Families of event types, for a legible chart.
const FAMILIES: &[(&str, &str, &str)] = &[
    ("Collection & rectification", "#4e79a7", "dp.data_collected dp.data_rectified dp.credential_changed"),
    ("Staff access", "#59a14f", "dp.data_accessed"),
    ("Tickets", "#f28e2b", "dp.ticket_"),
    ("Remote access & copies", "#e15759", "dp.remote_access_ dp.support_copy_"),
    ("Sharing, transfers, disclosures", "#76b7b2", "dp.data_shared dp.transfer_made dp.disclosure_made dp.recipient_registered dp.business_transfer"),
    ("Consent & marketing", "#edc948", "dp.consent_ dp.marketing_"),
    ("Rights requests", "#b07aa1", "dp.request_"),
    ("Erasure, retention & keys", "#9c755f", "vault. dp.retention_expired dp.contract_ended"),
    ("Policy & backups", "#bab0ac", "dp.policy_ dp.backup_"),
];

fn family(event_type: &str) -> usize {
    FAMILIES
        .iter()
        .position(|(_, _, prefixes)| prefixes.split(' ').any(|p| event_type.starts_with(p)))
        .unwrap_or(FAMILIES.len() - 1)
}

fn events_chart(by_month: &BTreeMap<String, BTreeMap<String, u64>>) -> String {
    let months: Vec<&String> = by_month.keys().collect();
    let mut stacks: Vec<[u64; 9]> = Vec::new();
    for m in &months {
        let mut s = [0u64; 9];
        for (t, n) in &by_month[*m] {
            s[family(t)] += n;
        }
        stacks.push(s);
    }
    let max = stacks
        .iter()
        .map(|s| s.iter().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let (w, h, left, bottom, top) = (760.0, 300.0, 56.0, 40.0, 12.0);
    let plot_h = h - bottom - top;
    let bar_w = if months.is_empty() {
        0.0
    } else {
        (w - left - 10.0) / months.len() as f64
    };
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="Events per month by type">"#
    );
    for i in 0..=4 {
        let v = max as f64 * f64::from(i) / 4.0;
        let y = top + plot_h - plot_h * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{left}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="10" text-anchor="end">{:.0}</text>"##,
            w - 10.0,
            left - 4.0,
            y + 3.0,
            v
        );
    }
    for (i, (m, s)) in months.iter().zip(&stacks).enumerate() {
        let x = left + bar_w * i as f64 + bar_w * 0.1;
        let mut y = top + plot_h;
        for (f, n) in s.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let bh = plot_h * *n as f64 / max as f64;
            y -= bh;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{bh:.1}" fill="{}"><title>{} {}: {n}</title></rect>"#,
                bar_w * 0.8,
                FAMILIES[f].1,
                esc(m),
                esc(FAMILIES[f].0)
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
            x + bar_w * 0.4,
            h - bottom + 14.0,
            esc(m)
        );
    }
    svg.push_str("</svg>");
    let mut legend = String::from(r#"<p class="legend">"#);
    for (name, color, _) in FAMILIES {
        let _ = write!(
            legend,
            r#"<span><i style="background:{color}"></i>{}</span> "#,
            esc(name)
        );
    }
    legend.push_str("</p>");
    svg + &legend
}

fn turnaround_chart(requests: &[RequestFact]) -> String {
    if requests.is_empty() {
        return "<p>No request in the period.</p>".to_owned();
    }
    let max_days = requests
        .iter()
        .map(|r| r.days_taken.max(r.days_allowed))
        .max()
        .unwrap_or(30)
        .max(1) as f64;
    let row = 9.0;
    let (w, left, top) = (760.0, 110.0, 18.0);
    let h = top + row * requests.len() as f64 + 24.0;
    let scale = (w - left - 20.0) / max_days;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h:.0}" width="100%" role="img" aria-label="Request turnaround against the deadline">"#
    );
    let mut d = 0;
    while f64::from(d) <= max_days {
        let x = left + f64::from(d) * scale;
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{top}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="12" font-size="10" text-anchor="middle">{d} d</text>"##,
            h - 20.0
        );
        d += 15;
    }
    for (i, r) in requests.iter().enumerate() {
        let y = top + row * i as f64;
        let color = if !r.in_time {
            "#e15759"
        } else if r.answered.is_none() {
            "#bab0ac"
        } else {
            "#59a14f"
        };
        let _ = write!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" font-size="7" text-anchor="end">{}</text><rect x="{left}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{}: {} of {} days ({})</title></rect><line x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#222" stroke-width="1.5"/>"##,
            left - 4.0,
            y + row * 0.75,
            esc(&r.request),
            y + 1.0,
            (r.days_taken.max(0) as f64 * scale).max(1.0),
            row - 2.0,
            esc(&r.request),
            r.days_taken,
            r.days_allowed,
            esc(&format!("{:?}", r.status).to_lowercase()),
            left + r.days_allowed as f64 * scale,
            left + r.days_allowed as f64 * scale,
            y,
            y + row,
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{left}" y="{:.1}" font-size="10">bar: days to answer (green in time, red late or overdue, grey open) · black tick: the due date in force</text>"##,
        h - 4.0
    );
    svg.push_str("</svg>");
    svg
}

pub(crate) fn render(
    meta: &Meta,
    controls: &[ControlSection],
    g: &Gathered,
    stats: &RequestStats,
    requests: &[RequestFact],
) -> String {
    let findings: usize = controls.iter().map(|c| c.exceptions.len()).sum();
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Evidence bundle — {origin}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:60rem;color:#222;line-height:1.45;padding:0 1rem}}
h1{{font-size:1.6rem;margin-bottom:.2rem}} h2{{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}}
.sub{{color:#666}} table{{border-collapse:collapse;width:100%;font-size:.9rem}} th,td{{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}}
th{{background:#f5f5f5}} .ok{{color:#1b7a2f;font-weight:600}} .bad{{color:#b3261e;font-weight:600}}
.cards{{display:flex;gap:1rem;flex-wrap:wrap}} .card{{border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;min-width:9rem}}
.card b{{display:block;font-size:1.4rem}} .legend span{{margin-right:.8rem;font-size:.8rem;white-space:nowrap}}
.legend i{{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;vertical-align:-1px}} code{{font-size:.8rem;word-break:break-all}}
</style></head><body>
<h1>Evidence bundle</h1>
<p class="sub">Ledger <code>{origin}</code> (id <code>{id}</code>) · period {from} to {to} · generated {gen}</p>
<div class="cards">
<div class="card">Integrity<b class="{vclass}">{vtext}</b></div>
<div class="card">Records<b>{records}</b>{in_period} in period</div>
<div class="card">Signed checkpoint<b>{size}</b>records covered</div>
<div class="card">Findings<b class="{fclass}">{findings}</b>across {ncontrols} controls</div>
<div class="card">Requests<b>{received}</b>{in_time} in time · {overdue} overdue</div>
</div>
<p>Checkpoint root <code>{root}</code>. Everything here was derived from the log and the public checkpoint key only; no secret key was used. <code>manifest.json</code> lists every file with its BLAKE3 and SHA-256, and <code>MANIFEST.hash</code> the manifest's own.</p>
"#,
        origin = esc(&meta.origin),
        id = esc(&meta.ledger_id),
        from = meta.from,
        to = meta.to,
        gen = meta.generated_at.format("%Y-%m-%d %H:%M UTC"),
        vclass = if meta.verified { "ok" } else { "bad" },
        vtext = if meta.verified { "verified" } else { "FAILED" },
        records = meta.records,
        in_period = meta.records_in_period,
        size = meta.checkpoint_size,
        fclass = if findings == 0 { "ok" } else { "bad" },
        ncontrols = controls.len(),
        received = stats.received,
        in_time = stats.answered_in_time(),
        overdue = stats.overdue,
        root = esc(&meta.checkpoint_root),
    );
    out.push_str("<h2>Controls (ISO/IEC 27001:2022 Annex A, 2013 aliases)</h2><table><tr><th>2022</th><th>2013</th><th>Control</th><th>Status</th><th>Evidence</th></tr>");
    for c in controls {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="{}">{}</td><td>{}{}</td></tr>"#,
            esc(c.id),
            esc(&c.aliases_2013.join(", ")),
            esc(c.title),
            if c.status == Status::Effective {
                "ok"
            } else {
                "bad"
            },
            if c.status == Status::Effective {
                "effective"
            } else {
                "finding"
            },
            esc(&c.summary),
            if c.exceptions.is_empty() {
                String::new()
            } else {
                format!(
                    "<ul>{}</ul>",
                    c.exceptions
                        .iter()
                        .map(|e| format!("<li>{}</li>", esc(e)))
                        .collect::<String>()
                )
            }
        );
    }
    out.push_str("</table>");
    out.push_str("<h2>Events per month, by type</h2>");
    out.push_str(&events_chart(&g.by_month));
    out.push_str("<h2>Rights requests: turnaround against the deadline</h2>");
    let _ = write!(
        out,
        "<p>{} received: {} answered in time ({} fulfilled, {} refused) · {} answered late · {} open · {} overdue; {} extended. The due date is the earlier of 30 days (the policy) and one calendar month (Art. 12(3)); an extension adds at most two months.</p>",
        stats.received, stats.answered_in_time(), stats.fulfilled_in_time, stats.refused_in_time, stats.answered_late, stats.open, stats.overdue, stats.extended
    );
    out.push_str(&turnaround_chart(requests));
    out.push_str("<h2>Recipients, transfers and disclosures</h2><table><tr><th>Recipient</th><th>Name</th><th>Country</th><th>Contract</th><th>Shares</th><th>Transfers</th></tr>");
    for (code, r) in &g.recipients {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(code),
            esc(&r.name),
            esc(&r.country),
            esc(&r.contract),
            r.shares,
            r.transfers
        );
    }
    out.push_str("</table><p></p><table><tr><th>Transfer to</th><th>Country</th><th>Safeguard</th><th>Count</th></tr>");
    for ((r, c, s), n) in &g.transfers {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{n}</td></tr>",
            esc(r),
            esc(c),
            esc(s)
        );
    }
    out.push_str("</table><p></p><table><tr><th>Disclosure</th><th>Authority</th><th>Instrument</th><th>Reference</th></tr>");
    for d in &g.disclosures {
        let _ = write!(
            out,
            "<tr><td>record {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            d.seq,
            esc(&d.authority),
            esc(&d.instrument),
            esc(&d.reference)
        );
    }
    out.push_str("</table>");
    let _ = write!(
        out,
        "<h2>Erasure and keys</h2><p>{} erasures by crypto-shredding, {} with a key-destruction certificate (NIST SP 800-88 cryptographic erase); {} KEK rotations.</p>",
        g.erasures.len(),
        g.erasures.iter().filter(|e| e.certificate_hash.is_some()).count(),
        g.rotations.len()
    );
    out.push_str("<p class=\"sub\">Files: controls.json, verification.json, requests.json, retention.json, register.json, key-lifecycle.json, proofs.json, erasure-certificates/, oscal/assessment-results.json.</p></body></html>\n");
    out
}
