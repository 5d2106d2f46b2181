//! The BackupStorageLocation controller: validates each location when due and writes whether
//! Velero can use it.
//!
//! Facts from Velero (`pkg/controller/backup_storage_location_controller.go`,
//! `internal/storage/storagelocation.go`, `pkg/persistence/object_store.go`, v1.9–v1.18):
//!
//! * a location is validated when it never was, or when `lastValidationTime +
//!   validationFrequency` has come (the server default is one minute; `0s` disables further
//!   validation, a negative value falls back to the default);
//! * validation lists the common prefixes under the location's prefix: a store error (bad
//!   credentials, a missing bucket) or a foreign top-level folder makes the location
//!   `Unavailable`, with `message` `BackupStorageLocation "<name>" is unavailable: <reason>`;
//!   success makes it `Available` and clears the message; `lastValidationTime` is written
//!   either way;
//! * when several locations claim `spec.default`, the most recently created one keeps it.

use std::time::Duration;

use drdrill_apis::velero::{BackupStorageLocation, BackupStorageLocationPhase};
use drdrill_kube_sim::clock::k8s_time;
use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;

use super::storage::object_store_for;
use super::{Context, Report, ServerContext, VeleroError};
use crate::layout::invalid_top_level_dirs_message;
use crate::s3::client::StoreError;

/// Velero server's default `--store-validation-frequency`.
pub const DEFAULT_VALIDATION_FREQUENCY: Duration = Duration::from_secs(60);

/// Why a Go duration string (`720h0m0s`, `1m`, `1.5h`, `300ms`) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct DurationError {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Parses a Go duration (`time.ParseDuration`): an optional sign, then one or more decimal
/// numbers each with a unit `ns`, `us`/`µs`, `ms`, `s`, `m`, `h`; `0` alone is zero. Negative
/// durations are rejected here (no Velero field means anything by one).
pub fn parse_go_duration(input: &str) -> Result<Duration, DurationError> {
    let err = |reason: &str| DurationError {
        input: input.to_string(),
        reason: reason.to_string(),
    };
    let mut rest = input.strip_prefix('+').unwrap_or(input);
    if let Some(negative) = rest.strip_prefix('-') {
        return if !negative.is_empty() && negative.chars().all(|c| c == '0') {
            Ok(Duration::ZERO)
        } else {
            Err(err("negative durations are not accepted"))
        };
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(err("empty"));
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(err("expected a number before each unit"));
        }
        let value: f64 = number.parse().map_err(|_| err("expected a number before each unit"))?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let nanos_per_unit = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(err("missing unit (one of ns, us, ms, s, m, h)")),
            other => return Err(err(&format!("unknown unit {other:?} (expected one of ns, us, ms, s, m, h)"))),
        };
        total += value * nanos_per_unit;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > u64::MAX as f64 {
        return Err(err("out of range"));
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// Formats a duration as Go's `Duration.String()` does for whole seconds and above
/// (`720h0m0s`, `1m0s`, `0s`), with a fractional second when there is one (`1.5s`).
pub fn format_go_duration(duration: Duration) -> String {
    let secs = duration.as_secs();
    let nanos = duration.subsec_nanos();
    if secs == 0 && nanos == 0 {
        return "0s".to_string();
    }
    if secs == 0 {
        return match nanos {
            n if n % 1_000_000 == 0 => format!("{}ms", n / 1_000_000),
            n if n % 1_000 == 0 => format!("{}µs", n / 1_000),
            n => format!("{n}ns"),
        };
    }
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let seconds = if nanos == 0 {
        format!("{s}")
    } else {
        format!("{s}.{:09}", nanos).trim_end_matches('0').to_string()
    };
    match (h, m) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

/// An object-store error as an object-store plugin reports it over gRPC to the Velero server
/// (`rpc error: code = Unknown desc = <S3 code>: <message>`).
pub(crate) fn plugin_error(err: &StoreError) -> String {
    match err {
        StoreError::S3 { code, message, .. } => format!("rpc error: code = Unknown desc = {code}: {message}"),
        StoreError::Transport { message, .. } => format!("rpc error: code = Unknown desc = {message}"),
        StoreError::Config(message) => format!("rpc error: code = Unknown desc = {message}"),
    }
}

/// Validates BackupStorageLocations (see the module documentation).
pub struct BackupStorageLocationController {
    ctx: ServerContext,
    default_frequency: Duration,
}

impl BackupStorageLocationController {
    /// A controller validating with the server default frequency of one minute.
    pub fn new(ctx: ServerContext) -> Self {
        BackupStorageLocationController {
            ctx,
            default_frequency: DEFAULT_VALIDATION_FREQUENCY,
        }
    }

    /// Uses `frequency` for locations without `spec.validationFrequency` (the server's
    /// `--store-validation-frequency`).
    pub fn with_default_frequency(mut self, frequency: Duration) -> Self {
        self.default_frequency = frequency;
        self
    }

    /// One pass: settles the default location, then validates every location that is due.
    pub async fn reconcile_all(&self) -> Result<Report, VeleroError> {
        let ns = &self.ctx.namespace;
        let api: Api<BackupStorageLocation> = Api::namespaced(self.ctx.client.clone(), ns);
        let locations = api
            .list(&ListParams::default())
            .await
            .ctx(|| format!("list BackupStorageLocations in {ns}"))?
            .items;
        let mut report = Report::default();
        self.ensure_single_default(&api, &locations, &mut report).await?;
        let now = self.ctx.clock.now();
        for location in &locations {
            if !self.is_due(location, now) {
                continue;
            }
            let name = location.name_any();
            let outcome = self.validate(location).await;
            let status = match &outcome {
                Ok(()) => {
                    tracing::info!(location = %name, "BackupStorageLocation is valid, marking as available");
                    json!({"phase": "Available", "message": null, "lastValidationTime": k8s_time(now)})
                }
                Err(reason) => {
                    let message = format!("BackupStorageLocation {name:?} is unavailable: {reason}");
                    tracing::warn!(location = %name, %message, "BackupStorageLocation is invalid, marking as unavailable");
                    json!({"phase": "Unavailable", "message": message, "lastValidationTime": k8s_time(now)})
                }
            };
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(json!({ "status": status })))
                .await
                .ctx(|| format!("update status of BackupStorageLocation {ns}/{name}"))?;
            report.updated.push(format!("BackupStorageLocation/{name}"));
        }
        Ok(report)
    }

    /// Whether a location's validation is due at `now` (Velero's `IsReadyToValidate`).
    fn is_due(&self, location: &BackupStorageLocation, now: Timestamp) -> bool {
        let Some(last) = location.status.as_ref().and_then(|s| s.last_validation_time.as_ref()) else {
            return true;
        };
        let frequency = match location.spec.validation_frequency.as_deref() {
            None => self.default_frequency,
            Some(text) => match parse_go_duration(text) {
                Ok(d) => d,
                // An unreadable frequency is reported by validation, so keep validating.
                Err(_) => return true,
            },
        };
        if frequency.is_zero() {
            return false;
        }
        let span = jiff::SignedDuration::try_from(frequency).unwrap_or(jiff::SignedDuration::MAX);
        last.0.checked_add(span).is_ok_and(|next| now >= next)
    }

    /// Velero's validation of one location: its spec, its store, its top-level folders. The
    /// error is the reason Velero writes after `is unavailable: `.
    async fn validate(&self, location: &BackupStorageLocation) -> Result<(), String> {
        if let Some(text) = location.spec.validation_frequency.as_deref() {
            parse_go_duration(text).map_err(|e| format!("spec.validationFrequency: {e}"))?;
        }
        let storage = &location.spec.object_storage;
        if storage.ca_cert.is_some() && storage.ca_cert_ref.is_some() {
            return Err("cannot specify both caCert and caCertRef in objectStorage".to_string());
        }
        if storage.bucket.contains('/') {
            return Err(format!(
                "backup storage location's bucket name {:?} must not contain a '/' (if using a prefix, put it in the 'Prefix' field instead)",
                storage.bucket
            ));
        }
        let store = object_store_for(&self.ctx.client, &self.ctx.namespace, location)
            .await
            .map_err(|e| e.to_string())?;
        let (_, prefixes) = store
            .list_delimited(store.layout().root_prefix(), "/")
            .await
            .map_err(|e| plugin_error(&e))?;
        let invalid = store.layout().invalid_top_level_dirs(&prefixes);
        match invalid_top_level_dirs_message(&invalid) {
            Some(message) => Err(message),
            None => Ok(()),
        }
    }

    /// Keeps `spec.default` on the most recently created of several default locations.
    async fn ensure_single_default(
        &self,
        api: &Api<BackupStorageLocation>,
        locations: &[BackupStorageLocation],
        report: &mut Report,
    ) -> Result<(), VeleroError> {
        let defaults: Vec<&BackupStorageLocation> = locations.iter().filter(|l| l.spec.default).collect();
        if defaults.len() < 2 {
            return Ok(());
        }
        let keep = defaults
            .iter()
            .max_by_key(|l| (l.metadata.creation_timestamp.as_ref().map(|t| t.0), l.name_any()))
            .map(|l| l.name_any())
            .unwrap_or_default();
        for location in defaults {
            let name = location.name_any();
            if name == keep {
                continue;
            }
            api.patch(&name, &PatchParams::default(), &Patch::Merge(json!({"spec": {"default": false}})))
                .await
                .ctx(|| format!("unset default of BackupStorageLocation {}/{name}", self.ctx.namespace))?;
            tracing::info!(location = %name, kept = %keep, "more than one default BackupStorageLocation: unset this one");
            report.updated.push(format!("BackupStorageLocation/{name}"));
        }
        Ok(())
    }
}

/// Whether a location is usable for new backups: phase `Available`.
pub fn is_available(location: &BackupStorageLocation) -> bool {
    location.status.as_ref().and_then(|s| s.phase) == Some(BackupStorageLocationPhase::Available)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse() {
        let h = |n: u64| Duration::from_secs(n * 3600);
        assert_eq!(parse_go_duration("720h0m0s"), Ok(h(720)));
        assert_eq!(parse_go_duration("336h"), Ok(h(336)));
        assert_eq!(parse_go_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_go_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("1h30m45s"), Ok(Duration::from_secs(5445)));
        assert_eq!(parse_go_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse_go_duration("10µs"), Ok(Duration::from_micros(10)));
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("+5s"), Ok(Duration::from_secs(5)));
    }

    #[test]
    fn bad_go_durations_say_why() {
        for (input, reason) in [
            ("", "empty"),
            ("24", "missing unit"),
            ("1d", "unknown unit \"d\""),
            ("h", "expected a number"),
            ("1..5s", "expected a number"),
            ("-1h", "negative"),
        ] {
            let err = parse_go_duration(input).expect_err(input);
            assert!(err.to_string().contains(reason), "{input}: {err}");
            assert!(err.to_string().contains(&format!("{input:?}")), "{err}");
        }
    }

    #[test]
    fn go_durations_format_like_go() {
        assert_eq!(format_go_duration(Duration::from_secs(720 * 3600)), "720h0m0s");
        assert_eq!(format_go_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(format_go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(format_go_duration(Duration::ZERO), "0s");
        assert_eq!(format_go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_go_duration(Duration::from_millis(300)), "300ms");
        for text in ["336h0m0s", "10m0s", "4h0m0s"] {
            assert_eq!(format_go_duration(parse_go_duration(text).unwrap()), text);
        }
    }

    #[test]
    fn plugin_errors_name_the_s3_code() {
        let err = StoreError::S3 {
            operation: "list",
            target: "mgmt/".into(),
            code: "InvalidAccessKeyId".into(),
            message: "The Access Key Id you provided does not exist in our records.".into(),
        };
        assert_eq!(
            plugin_error(&err),
            "rpc error: code = Unknown desc = InvalidAccessKeyId: The Access Key Id you provided does not exist in our records."
        );
    }
}
