//! Velero's printers (`pkg/cmd/util/output/*_printer.go`) and describer layout, in Go's
//! formats: times as Go's `time.Time.String()` in UTC, ages as apimachinery's
//! `ShortHumanDuration`, selectors as `metav1.FormatLabelSelector`, columns through a
//! tabwriter with kubectl's three-space gap.

use std::fmt::Write as _;

use drdrill_apis::velero::{Backup, BackupStorageLocation, Restore, Schedule};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use super::args::{format_selector, go_duration_string, parse_go_duration};
use crate::report::columns;

/// Go's `time.Time.String()` for a UTC time: `2022-12-07 17:10:42 +0000 UTC` (fractional
/// seconds only when non-zero, trailing zeros trimmed).
pub fn go_time(ts: Timestamp) -> String {
    let mut text = ts.strftime("%Y-%m-%d %H:%M:%S").to_string();
    let nanos = ts.subsec_nanosecond();
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        text.push('.');
        text.push_str(frac.trim_end_matches('0'));
    }
    text.push_str(" +0000 UTC");
    text
}

/// A `*metav1.Time` printed with `%v`/`%s`: `<nil>` when unset.
pub fn go_time_opt(time: Option<&Time>) -> String {
    time.map(|t| go_time(t.0)).unwrap_or_else(|| "<nil>".to_string())
}

/// apimachinery's `duration.ShortHumanDuration` for `seconds` (fractional).
pub fn short_human_duration(seconds: f64) -> String {
    let whole = seconds.trunc() as i64;
    if whole < -1 {
        return "<invalid>".to_string();
    }
    if whole < 0 {
        return "0s".to_string();
    }
    if whole < 60 {
        return format!("{whole}s");
    }
    let minutes = (seconds / 60.0).trunc() as i64;
    if minutes < 60 {
        return format!("{minutes}m");
    }
    let hours = (seconds / 3600.0).trunc() as i64;
    if hours < 24 {
        return format!("{hours}h");
    }
    if hours < 24 * 365 {
        return format!("{}d", hours / 24);
    }
    format!("{}y", (seconds / 3600.0 / 24.0 / 365.0).trunc() as i64)
}

/// velero's `humanReadableTimeFromNow`: `n/a` for no time, `24d` ahead, `5m ago` behind.
pub fn human_time_from_now(when: Option<Timestamp>, now: Timestamp) -> String {
    let Some(when) = when else {
        return "n/a".to_string();
    };
    let seconds = |d: jiff::SignedDuration| d.as_secs_f64();
    if when >= now {
        short_human_duration(seconds(when.duration_since(now)))
    } else {
        format!("{} ago", short_human_duration(seconds(now.duration_since(when))))
    }
}

/// The name of a backup made by a schedule ends in a 14-digit timestamp.
fn timestamp_suffix(name: &str) -> Option<usize> {
    let bytes = name.as_bytes();
    if bytes.len() < 15 {
        return None;
    }
    let start = bytes.len() - 14;
    (bytes[start - 1] == b'-' && bytes[start..].iter().all(u8::is_ascii_digit)).then_some(start - 1)
}

/// velero's backup order: alphabetical, but a schedule's backups (same prefix, timestamp suffix)
/// newest first. (Expressed as a total order: grouped by prefix, the suffixed ones after a
/// backup named exactly like the prefix.)
pub fn sort_backups(backups: &mut [Backup]) {
    backups.sort_by(|a, b| {
        let key = |backup: &Backup| {
            let name = backup.name_any();
            match timestamp_suffix(&name) {
                Some(at) => (name[..at].to_string(), 1u8, std::cmp::Reverse(name[at..].to_string())),
                None => (name, 0u8, std::cmp::Reverse(String::new())),
            }
        };
        key(a).cmp(&key(b))
    });
}

/// `velero backup get`: NAME STATUS ERRORS WARNINGS CREATED EXPIRES STORAGE LOCATION SELECTOR.
pub fn backup_table(backups: &[Backup], now: Timestamp) -> String {
    let mut sorted = backups.to_vec();
    sort_backups(&mut sorted);
    let rows: Vec<Vec<String>> = sorted
        .iter()
        .map(|backup| {
            let status = backup.status.clone().unwrap_or_default();
            let mut expiration = status.expiration.as_ref().map(|t| t.0);
            if expiration.is_none() {
                let ttl = backup.spec.ttl.as_deref().and_then(|t| parse_go_duration(t).ok()).unwrap_or(0);
                if ttl > 0 {
                    expiration = backup
                        .metadata
                        .creation_timestamp
                        .as_ref()
                        .and_then(|c| c.0.checked_add(jiff::SignedDuration::from_nanos(ttl)).ok());
                }
            }
            let mut phase = status.phase.map(|p| p.as_str()).unwrap_or("New").to_string();
            if backup.metadata.deletion_timestamp.is_some() {
                phase = "Deleting".to_string();
            }
            vec![
                backup.name_any(),
                phase,
                status.errors.to_string(),
                status.warnings.to_string(),
                go_time_opt(status.start_timestamp.as_ref()),
                human_time_from_now(expiration, now),
                backup.spec.storage_location.clone().unwrap_or_default(),
                format_selector(backup.spec.label_selector.as_ref()),
            ]
        })
        .collect();
    columns(
        &[
            "NAME",
            "STATUS",
            "ERRORS",
            "WARNINGS",
            "CREATED",
            "EXPIRES",
            "STORAGE LOCATION",
            "SELECTOR",
        ],
        &rows,
    )
}

/// `velero restore get`: NAME BACKUP STATUS STARTED COMPLETED ERRORS WARNINGS CREATED SELECTOR.
pub fn restore_table(restores: &[Restore]) -> String {
    let rows: Vec<Vec<String>> = restores
        .iter()
        .map(|restore| {
            let status = restore.status.clone().unwrap_or_default();
            vec![
                restore.name_any(),
                restore.spec.backup_name.clone().unwrap_or_default(),
                status.phase.map(|p| p.as_str()).unwrap_or("New").to_string(),
                go_time_opt(status.start_timestamp.as_ref()),
                go_time_opt(status.completion_timestamp.as_ref()),
                status.errors.to_string(),
                status.warnings.to_string(),
                restore
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| go_time(t.0))
                    .unwrap_or_else(|| "0001-01-01 00:00:00 +0000 UTC".to_string()),
                format_selector(restore.spec.label_selector.as_ref()),
            ]
        })
        .collect();
    columns(
        &[
            "NAME",
            "BACKUP",
            "STATUS",
            "STARTED",
            "COMPLETED",
            "ERRORS",
            "WARNINGS",
            "CREATED",
            "SELECTOR",
        ],
        &rows,
    )
}

/// `velero schedule get`: NAME STATUS CREATED SCHEDULE BACKUP TTL LAST BACKUP SELECTOR, plus
/// PAUSED from velero v1.10 on (`with_paused`).
pub fn schedule_table(schedules: &[Schedule], now: Timestamp, with_paused: bool) -> String {
    let rows: Vec<Vec<String>> = schedules
        .iter()
        .map(|schedule| {
            let status = schedule.status.clone().unwrap_or_default();
            let phase = match status.phase {
                Some(drdrill_apis::velero::SchedulePhase::Enabled) => "Enabled",
                Some(drdrill_apis::velero::SchedulePhase::FailedValidation) => "FailedValidation",
                Some(drdrill_apis::velero::SchedulePhase::New) | None => "New",
            };
            let ttl = schedule
                .spec
                .template
                .ttl
                .as_deref()
                .and_then(|t| parse_go_duration(t).ok())
                .unwrap_or(0);
            let mut row = vec![
                schedule.name_any(),
                phase.to_string(),
                schedule
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| go_time(t.0))
                    .unwrap_or_else(|| "0001-01-01 00:00:00 +0000 UTC".to_string()),
                schedule.spec.schedule.clone(),
                go_duration_string(ttl),
                human_time_from_now(status.last_backup.as_ref().map(|t| t.0), now),
                format_selector(schedule.spec.template.label_selector.as_ref()),
            ];
            if with_paused {
                row.push(schedule.spec.paused.to_string());
            }
            row
        })
        .collect();
    let mut header = vec!["NAME", "STATUS", "CREATED", "SCHEDULE", "BACKUP TTL", "LAST BACKUP", "SELECTOR"];
    if with_paused {
        header.push("PAUSED");
    }
    columns(&header, &rows)
}

/// `velero backup-location get`: NAME PROVIDER BUCKET/PREFIX PHASE LAST VALIDATED ACCESS MODE DEFAULT.
pub fn location_table(locations: &[BackupStorageLocation]) -> String {
    let rows: Vec<Vec<String>> = locations
        .iter()
        .map(|location| {
            let spec = &location.spec;
            let mut bucket = spec.object_storage.bucket.clone();
            if let Some(prefix) = spec.object_storage.prefix.as_deref().filter(|p| !p.is_empty()) {
                bucket = format!("{bucket}/{prefix}");
            }
            let status = location.status.clone().unwrap_or_default();
            let phase = match status.phase {
                Some(drdrill_apis::velero::BackupStorageLocationPhase::Available) => "Available",
                Some(drdrill_apis::velero::BackupStorageLocationPhase::Unavailable) => "Unavailable",
                None => "Unknown",
            };
            let access = match spec.access_mode {
                Some(drdrill_apis::velero::BackupStorageLocationAccessMode::ReadOnly) => "ReadOnly",
                _ => "ReadWrite",
            };
            vec![
                location.name_any(),
                spec.provider.clone(),
                bucket,
                phase.to_string(),
                status
                    .last_validation_time
                    .as_ref()
                    .map(|t| go_time(t.0))
                    .unwrap_or_else(|| "Unknown".to_string()),
                access.to_string(),
                if spec.default { "true".to_string() } else { String::new() },
            ]
        })
        .collect();
    columns(
        &[
            "NAME",
            "PROVIDER",
            "BUCKET/PREFIX",
            "PHASE",
            "LAST VALIDATED",
            "ACCESS MODE",
            "DEFAULT",
        ],
        &rows,
    )
}

/// velero's `Describer`: lines with tab-separated cells, aligned like Go's
/// `tabwriter.NewWriter(buf, 0, 8, 2, ' ', 0)`.
#[derive(Default)]
pub struct Describer {
    text: String,
}

impl Describer {
    /// Appends text (may hold tabs and newlines).
    pub fn print(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// Appends a line.
    pub fn line(&mut self, text: &str) {
        self.text.push_str(text);
        self.text.push('\n');
    }

    /// `Name`, `Namespace`, `Labels`, `Annotations` as velero describes metadata.
    pub fn metadata(&mut self, meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
        self.line(&format!("Name:\t{}", meta.name.clone().unwrap_or_default()));
        self.line(&format!("Namespace:\t{}", meta.namespace.clone().unwrap_or_default()));
        self.map("Labels", meta.labels.as_ref());
        self.map("Annotations", meta.annotations.as_ref());
    }

    /// A map, one `k=v` per line under its heading, `<none>` when empty.
    pub fn map(&mut self, name: &str, map: Option<&std::collections::BTreeMap<String, String>>) {
        let _ = write!(self.text, "{name}:\t");
        match map.filter(|m| !m.is_empty()) {
            None => self.text.push_str("<none>\n"),
            Some(map) => {
                for (i, (k, v)) in map.iter().enumerate() {
                    let prefix = if i == 0 { "" } else { "\t" };
                    let _ = writeln!(self.text, "{prefix}{k}={v}");
                }
            }
        }
    }

    /// A list under a heading, `preindent` tabs in, `<none>` when empty.
    pub fn slice(&mut self, preindent: usize, name: &str, items: &[String]) {
        let pretab = "\t".repeat(preindent);
        let _ = write!(self.text, "{pretab}{name}:\t");
        if items.is_empty() {
            let _ = writeln!(self.text, "{pretab}<none>");
            return;
        }
        for (i, item) in items.iter().enumerate() {
            let prefix = if i == 0 { String::new() } else { format!("{pretab}\t") };
            let _ = writeln!(self.text, "{prefix}{item}");
        }
    }

    /// The aligned text.
    pub fn finish(self) -> String {
        use std::io::Write as _;
        let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(0).tab_indent(false).padding(2);
        // Writing into a Vec cannot fail.
        let _ = tw.write_all(self.text.as_bytes());
        let bytes = tw.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// `BoolPointerString`.
pub fn bool_pointer(value: Option<bool>, false_text: &str, true_text: &str, nil_text: &str) -> String {
    match value {
        None => nil_text,
        Some(true) => true_text,
        Some(false) => false_text,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_time_strings() {
        let ts: Timestamp = "2022-12-07T17:10:42Z".parse().expect("ts");
        assert_eq!(go_time(ts), "2022-12-07 17:10:42 +0000 UTC");
        let ts: Timestamp = "2022-12-07T17:10:42.5Z".parse().expect("ts");
        assert_eq!(go_time(ts), "2022-12-07 17:10:42.5 +0000 UTC");
        assert_eq!(go_time_opt(None), "<nil>");
    }

    #[test]
    fn ages_like_apimachinery() {
        assert_eq!(short_human_duration(59.9), "59s");
        assert_eq!(short_human_duration(60.0), "1m");
        assert_eq!(short_human_duration(3599.0), "59m");
        assert_eq!(short_human_duration(86_399.0), "23h");
        assert_eq!(short_human_duration(24.0 * 86_400.0 + 5.0), "24d");
        assert_eq!(short_human_duration(400.0 * 86_400.0), "1y");
        assert_eq!(short_human_duration(-1.5), "0s");
        assert_eq!(short_human_duration(-2.0), "<invalid>");
        let now: Timestamp = "2022-12-13T17:10:42Z".parse().expect("ts");
        let later: Timestamp = "2023-01-06T17:10:42Z".parse().expect("ts");
        assert_eq!(human_time_from_now(Some(later), now), "24d");
        assert_eq!(human_time_from_now(Some(now), later), "24d ago");
        assert_eq!(human_time_from_now(None, now), "n/a");
    }

    #[test]
    fn describer_aligns_like_go_tabwriter() {
        let mut d = Describer::default();
        d.line("Name:\tmy-backup");
        d.line("Namespace:\tvelero");
        d.line("");
        d.line("Namespaces:");
        d.line("\tIncluded:\t*");
        d.line("\tExcluded:\ttkg-system");
        assert_eq!(
            d.finish(),
            "Name:       my-backup\nNamespace:  velero\n\nNamespaces:\n  Included:  *\n  Excluded:  tkg-system\n"
        );
    }
}
