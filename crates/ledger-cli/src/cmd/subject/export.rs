//! `ledger subject export`: the GDPR Art. 15 answer (and Art. 20 subset)
//! of one data subject, written to a directory.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use ledger_compliance::query::SubjectReport;
use ledger_compliance::ComplianceLedger;
use ledger_core::ScopeId;

use super::{html, package};
use crate::open;
use crate::Global;

pub(crate) const LONG_ABOUT: &str = "\
Write a data subject's access package to --out DIR:

  access.json       the GDPR Art. 15 answer: confirmation, a copy of the data
                    (current values and each record's personal data,
                    decrypted), purposes and lawful bases, categories,
                    recipients by identity, transfers outside the EEA and
                    their safeguards, retention, sources, rights, the right
                    to complain, the access log (dates, purposes and roles,
                    never who), controller and DPO contact, and an inclusion
                    proof of every record about the subject and their tickets
                    against a freshly signed checkpoint, with the verifier key;
  access.html       the same as one self-contained page for the person;
  portability.json  the Art. 20 subset: the data the subject provided and
                    their consents.

For an erased subject the package says what was erased, when, why and that
the key was destroyed, and holds no personal data (there is none left to
decrypt). Erased subjects are no longer in the email index: name them with
--subject.

The files hold personal data (that is their purpose) and are created
readable by the owner only; nothing personal is printed. Exit codes: 0 ok,
2 no such subject, usage or I/O error.";

/// Arguments of `ledger subject export`.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("who").required(true).args(["subject", "email", "email_file"])))]
pub(crate) struct Args {
    /// The subject's pseudonymous id (32 hex digits).
    #[arg(long)]
    subject: Option<ScopeId>,
    /// The subject's email, looked up in the blind index (never printed).
    #[arg(long)]
    email: Option<String>,
    /// Read the email from this file (`-`: stdin) instead, so that it is
    /// not in the command line other users can see.
    #[arg(long, value_name = "FILE")]
    email_file: Option<PathBuf>,
    /// Directory to write the package to (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Pseudonym of the operator answering; the consultation is recorded as
    /// an access by the DPO for a rights request (it then appears in the
    /// subject's access log).
    #[arg(long, default_value = "op:dpo")]
    operator: String,
}

/// What [`write_package`] wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Written {
    /// The subject.
    pub(crate) subject: String,
    /// `live` or `erased`.
    pub(crate) state: &'static str,
    /// The directory.
    pub(crate) dir: PathBuf,
    /// `access.json`.
    pub(crate) access_json: PathBuf,
    /// `access.html`.
    pub(crate) access_html: PathBuf,
    /// `portability.json`.
    pub(crate) portability_json: PathBuf,
    /// Records whose personal data is copied (0 when erased).
    pub(crate) records: usize,
    /// Inclusion proofs.
    pub(crate) proofs: usize,
    /// Size of the signed tree the proofs lead to.
    pub(crate) tree_size: u64,
}

pub(crate) fn run(args: &Args, global: &Global) -> anyhow::Result<ExitCode> {
    let compliance = open::open(global.dir()?, &global.spec())?;
    let email = crate::email_input::email(args.email.as_ref(), args.email_file.as_ref())?;
    let report = match (&args.subject, &email) {
        (Some(subject), _) => compliance
            .subject_report(subject)
            .context("reading the subject's records")?
            .with_context(|| {
                format!("no such subject: the log holds no record about {subject} (a subject created without events has nothing to export)")
            })?,
        (None, Some(email)) => {
            let subject = compliance
                .vault()
                .find_by_email(email)
                .context("looking up the email")?
                .context(
                    "no such subject: no live subject is registered under that email (an erased subject is found only by --subject)",
                )?;
            compliance
                .subject_report(&subject)
                .context("reading the subject's records")?
                .with_context(|| {
                    format!("subject {subject} is registered under that email, but the log holds no record about them yet: there is nothing to export")
                })?
        }
        (None, None) => anyhow::bail!("give --subject or --email"),
    };
    // Reading someone's data to answer them is itself an access (8.15; the
    // Art. 15 log of consultations): record it before building the answer.
    let mut recorded = None;
    let report = if report.erased {
        report
    } else {
        let subject = report.subject;
        let consultation = compliance
            .record_blocking(ledger_compliance::ComplianceEvent::subject(
                subject,
                args.operator.clone(),
                ledger_compliance::Facts::DataAccessed {
                    role: ledger_compliance::vocab::Role::Dpo,
                    purpose: ledger_compliance::vocab::Purpose::RightsRequest,
                },
            ))
            .context("recording the consultation")?;
        recorded = Some(consultation.seq);
        let done = format!("the consultation was recorded (seq {}); ", consultation.seq);
        compliance
            .subject_report(&subject)
            .with_context(|| format!("{done}reading the subject's records failed"))?
            .with_context(|| format!("{done}the subject vanished while answering"))?
    };
    let written =
        write_package(&compliance, &report, &args.out).with_context(|| match recorded {
            Some(seq) => {
                format!("the consultation was recorded (seq {seq}); writing the package failed")
            }
            None => "writing the package failed".to_owned(),
        })?;
    crate::cmd::checkpoint::seal_head(&compliance)?;
    if global.json {
        crate::cmd::print_json(&serde_json::to_value(&written)?)?;
    } else {
        println!(
            "subject       {} ({})",
            written.subject,
            if written.state == "erased" {
                "erased: the package says what, when and why, and holds no personal data"
            } else {
                "live"
            }
        );
        println!(
            "records       {} with personal data copied; {} inclusion proofs against the signed checkpoint of {} records",
            written.records, written.proofs, written.tree_size
        );
        for path in [
            &written.access_json,
            &written.access_html,
            &written.portability_json,
        ] {
            println!("wrote         {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds `report`'s package (signing a fresh checkpoint) and writes its
/// three files into `out`, created if missing; files are owner-only.
pub(crate) fn write_package(
    compliance: &ComplianceLedger,
    report: &SubjectReport,
    out: &Path,
) -> anyhow::Result<Written> {
    let package = package::build(compliance, report)?;
    create_dir(out)?;
    let access_json = out.join("access.json");
    let access_html = out.join("access.html");
    let portability_json = out.join("portability.json");
    write_file(&access_json, &serde_json::to_vec_pretty(&package.access)?)?;
    write_file(&access_html, html::render(&package.access).as_bytes())?;
    write_file(
        &portability_json,
        &serde_json::to_vec_pretty(&package.portability)?,
    )?;
    let access = &package.access;
    Ok(Written {
        subject: access.subject.clone(),
        state: access.state,
        dir: out.to_path_buf(),
        access_json,
        access_html,
        portability_json,
        records: access
            .processing
            .as_ref()
            .map_or(0, |p| p.data.records.len()),
        proofs: access.integrity.proofs.len(),
        tree_size: access.integrity.checkpoint.tree_size,
    })
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))
}

/// Writes `bytes` to a new file `path`, readable by the owner only. An
/// existing file or symlink there is refused (O_CREAT | O_EXCL, which never
/// follows a symlink), so personal data never lands in a file someone else
/// prepared or keeps an older file's wider mode.
fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}
