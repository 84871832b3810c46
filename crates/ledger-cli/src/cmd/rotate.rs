//! `ledger rotate-keys`: rotate the key-encryption key.

use std::process::ExitCode;

use serde_json::json;

use crate::open::{self, OpenSpec};
use crate::Global;

/// Arguments of `ledger rotate-keys`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {}

pub(crate) fn run(_args: &Args, global: &Global) -> anyhow::Result<ExitCode> {
    let spec = OpenSpec {
        rotate_inline: false,
        ..global.spec()
    };
    let compliance = open::open(global.dir()?, &spec)?;
    let bar = crate::progress::bar(None, "rotating");
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    let report = compliance.vault().rotate_kek()?;
    bar.finish_and_clear();
    let checkpoint = crate::cmd::checkpoint::seal_head(&compliance)?;
    if global.json {
        crate::cmd::print_json(&json!({
            "checkpoint": crate::cmd::checkpoint::summary(checkpoint.as_ref()),
            "old_kek_version": report.old_version,
            "new_kek_version": report.new_version,
            "rewrapped": report.rewrapped,
            "destroyed_kek_versions": report.destroyed,
            "event_seq": report.event_seq,
            "certificates": report.certificates.iter().map(|(s, h)| json!({
                "subject": s.to_string(),
                "certificate_hash": hex::encode(h),
            })).collect::<Vec<_>>(),
            "resumed": report.resumed,
            "elapsed_ms": report.elapsed.as_secs_f64() * 1e3,
        }))?;
    } else {
        println!(
            "KEK v{} -> v{}: {} keys re-wrapped, destroyed KEK versions {:?}, recorded at seq {}",
            report.old_version,
            report.new_version,
            report.rewrapped,
            report.destroyed,
            report.event_seq
        );
        println!(
            "{} erasures completed with key-destruction certificates{}",
            report.certificates.len(),
            if report.resumed {
                " (finished a rotation a crash had interrupted)"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
