//! NIST OSCAL 1.1.2 assessment results (and the stub assessment plan they
//! import), so compliance tools can take the findings in.

use serde_json::{json, Value};

use crate::controls::{ControlSection, Status};
use crate::html::Meta;

const OSCAL_VERSION: &str = "1.1.2";

/// A name-based UUID (RFC 4122 layout, version 5 bits over BLAKE3), so the
/// same bundle content gives the same ids.
fn uuid(seed: &str) -> String {
    let h = blake3::hash(seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&h.as_bytes()[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &x[0..8],
        &x[8..12],
        &x[12..16],
        &x[16..20],
        &x[20..32]
    )
}

fn control_id(id: &str) -> String {
    // OSCAL control ids are tokens: "8.15" → "iso27001-2022-a.8.15".
    format!("iso27001-2022-a.{}", id.replace('-', "_"))
}

pub(crate) fn render(meta: &Meta, controls: &[ControlSection]) -> (Value, Value) {
    let seed = format!("{}/{}", meta.ledger_id, meta.checkpoint_root);
    let when = meta
        .generated_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let metadata = |title: &str| {
        json!({
            "title": title,
            "last-modified": when,
            "version": "1",
            "oscal-version": OSCAL_VERSION,
        })
    };
    let plan = json!({
        "assessment-plan": {
            "uuid": uuid(&format!("{seed}/plan")),
            "metadata": metadata("Assessment plan (stub): ledger evidence for ISO/IEC 27001:2022 Annex A"),
            "import-ssp": { "href": "#system-security-plan-not-provided" },
            "reviewed-controls": {
                "control-selections": [{
                    "include-controls": controls.iter().map(|c| json!({"control-id": control_id(c.id)})).collect::<Vec<_>>()
                }]
            }
        }
    });
    let mut observations = Vec::new();
    let mut findings = Vec::new();
    for c in controls {
        let obs_id = uuid(&format!("{seed}/obs/{}", c.id));
        observations.push(json!({
            "uuid": obs_id,
            "title": format!("{} {}", c.id, c.title),
            "description": c.summary,
            "methods": ["EXAMINE", "TEST"],
            "collected": when,
            "props": [{"name": "iso27001-2013-aliases", "value": c.aliases_2013.join(" ")}],
            "relevant-evidence": [{"href": "../controls.json", "description": "Facts, samples and exceptions for this control"}],
        }));
        let state = if c.status == Status::Effective {
            "satisfied"
        } else {
            "not-satisfied"
        };
        let description = if c.exceptions.is_empty() {
            "No exception found.".to_owned()
        } else {
            c.exceptions.join("; ")
        };
        findings.push(json!({
            "uuid": uuid(&format!("{seed}/finding/{}", c.id)),
            "title": format!("{} {}", c.id, c.title),
            "description": description,
            "target": {
                "type": "objective-id",
                "target-id": format!("{}_obj", control_id(c.id)),
                "status": { "state": state }
            },
            "related-observations": [{"observation-uuid": obs_id}],
        }));
    }
    let results = json!({
        "assessment-results": {
            "uuid": uuid(&format!("{seed}/results")),
            "metadata": metadata("Assessment results: ledger evidence for ISO/IEC 27001:2022 Annex A"),
            "import-ap": { "href": "assessment-plan.json" },
            "results": [{
                "uuid": uuid(&format!("{seed}/result")),
                "title": format!("Ledger {} up to checkpoint {}", meta.origin, meta.checkpoint_size),
                "description": format!("Derived from the log and the public checkpoint key; period {} to {}.", meta.from, meta.to),
                "start": format!("{}T00:00:00Z", meta.from),
                "end": format!("{}T23:59:59Z", meta.to),
                "reviewed-controls": {
                    "control-selections": [{
                        "include-controls": controls.iter().map(|c| json!({"control-id": control_id(c.id)})).collect::<Vec<_>>()
                    }]
                },
                "observations": observations,
                "findings": findings,
            }]
        }
    });
    (plan, results)
}
