//! How records of no scope (recipients, policies, backups) change the projections.

use chrono::{DateTime, Utc};

use super::{encode, load, Fold};
use crate::event::Facts;
use crate::projection::entity::*;
use crate::projection::keys;
use crate::projection::ProjectionError;

impl Fold<'_> {
    pub(super) fn apply_general(
        &mut self,
        seq: u64,
        at: DateTime<Utc>,
        facts: &Facts,
    ) -> Result<(), ProjectionError> {
        use Facts::*;
        match facts {
            RecipientRegistered {
                recipient,
                name,
                country,
                contract,
                recipient_role,
            } => {
                let r = self.recipient(recipient)?;
                r.registration.get_or_insert_with(|| Registration {
                    name: name.clone(),
                    country: country.clone(),
                    contract: contract.clone(),
                    role: *recipient_role,
                    registered_at: at,
                });
            }
            BusinessTransfer {
                counterparty,
                kind,
                country,
            } => {
                let entry = BusinessTransferEntry {
                    seq,
                    at,
                    counterparty: counterparty.clone(),
                    kind: *kind,
                    country: country.clone(),
                };
                self.appended
                    .push((keys::business_transfer(seq), encode(&entry)?));
            }
            PolicyPublished {
                version,
                effective,
                material,
            } => {
                let slot = load(&mut self.policies, self.lookup, version.clone(), |v| {
                    keys::policy(v)
                })?;
                if slot.value.is_none() {
                    slot.value = Some(PolicyVersion {
                        version: version.clone(),
                        published_at: at,
                        effective: *effective,
                        material: *material,
                        notified: 0,
                    });
                    slot.dirty = true;
                }
            }
            BackupArchived {
                backup,
                media,
                retain_until,
            } => {
                let slot = load(&mut self.backups, self.lookup, backup.clone(), |b| {
                    keys::backup(b)
                })?;
                if slot.value.is_none() {
                    slot.value = Some(Backup {
                        backup: backup.clone(),
                        media: media.clone(),
                        archived_at: at,
                        retain_until: *retain_until,
                        destroyed_at: None,
                        method: None,
                    });
                    slot.dirty = true;
                }
            }
            BackupDestroyed { backup, method } => {
                let slot = load(&mut self.backups, self.lookup, backup.clone(), |b| {
                    keys::backup(b)
                })?;
                if let Some(b) = &mut slot.value {
                    if b.destroyed_at.is_none() {
                        b.destroyed_at = Some(at);
                        b.method = Some(method.clone());
                        slot.dirty = true;
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}
