//! The velero command line as clap sees it, and the value syntaxes velero's flags accept
//! (pflag booleans, Go durations, comma lists, `k=v` maps, label selectors).
//!
//! Flags follow velero v1.9's cobra/pflag definitions: repeated flags override earlier ones
//! (pflag semantics) except map flags, which accumulate; booleans take `--flag` or `--flag=false`
//! but never a separate value; a string flag takes the next word even when it starts with `-`
//! where pflag would (so `--bucket $BUCKET` with an empty `$BUCKET` is caught as velero catches it).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

use super::VeleroCliError;

/// `velero [global flags] VERB …`.
#[derive(Debug, Parser)]
#[command(
    name = "velero",
    no_binary_name = true,
    disable_version_flag = true,
    args_override_self = true,
    color = clap::ColorChoice::Never,
    about = "Velero is a tool for managing disaster recovery, specifically for Kubernetes cluster resources."
)]
pub(crate) struct Cli {
    /// The namespace in which Velero should operate.
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// Path to the kubeconfig file to use to talk to the Kubernetes apiserver.
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The context to use to talk to the Kubernetes apiserver.
    #[arg(long, global = true)]
    pub kubecontext: Option<String>,
    /// The verb.
    #[command(subcommand)]
    pub command: Verb,
}

/// Top-level verbs.
#[derive(Debug, Subcommand)]
pub(crate) enum Verb {
    /// Install Velero.
    Install(Box<InstallArgs>),
    /// Work with backups.
    #[command(subcommand)]
    Backup(BackupVerb),
    /// Work with restores.
    #[command(subcommand)]
    Restore(RestoreVerb),
    /// Work with schedules.
    #[command(subcommand)]
    Schedule(ScheduleVerb),
    /// Create velero resources.
    #[command(subcommand)]
    Create(CreateVerb),
    /// Get velero resources.
    #[command(subcommand)]
    Get(GetVerb),
    /// Work with backup storage locations.
    #[command(name = "backup-location", subcommand)]
    BackupLocation(BackupLocationVerb),
    /// Print the velero version and associated image.
    Version(VersionArgs),
}

/// `velero backup …`.
#[derive(Debug, Subcommand)]
pub(crate) enum BackupVerb {
    /// Create a backup.
    Create(Box<BackupCreateArgs>),
    /// Get backups.
    Get(GetArgs),
    /// Describe backups.
    Describe(DescribeArgs),
    /// Get backup logs.
    Logs(LogsArgs),
    /// Download all Kubernetes manifests for a backup.
    Download(DownloadArgs),
    /// Delete backups.
    Delete(DeleteArgs),
}

/// `velero restore …`.
#[derive(Debug, Subcommand)]
pub(crate) enum RestoreVerb {
    /// Create a restore.
    Create(Box<RestoreCreateArgs>),
    /// Get restores.
    Get(GetArgs),
    /// Describe restores.
    Describe(DescribeArgs),
    /// Get restore logs.
    Logs(LogsArgs),
}

/// `velero schedule …`.
#[derive(Debug, Subcommand)]
pub(crate) enum ScheduleVerb {
    /// Create a schedule.
    Create(Box<ScheduleCreateArgs>),
    /// Get schedules.
    Get(GetArgs),
    /// Pause schedules.
    Pause(SelectArgs),
    /// Unpause schedules.
    Unpause(SelectArgs),
}

/// `velero create …`.
#[derive(Debug, Subcommand)]
pub(crate) enum CreateVerb {
    /// Create a backup.
    Backup(Box<BackupCreateArgs>),
    /// Create a restore.
    Restore(Box<RestoreCreateArgs>),
    /// Create a schedule.
    Schedule(Box<ScheduleCreateArgs>),
}

/// `velero get …`.
#[derive(Debug, Subcommand)]
pub(crate) enum GetVerb {
    /// Get backups.
    Backups(GetArgs),
    /// Get restores.
    Restores(GetArgs),
    /// Get schedules.
    Schedules(GetArgs),
    /// Get backup storage locations.
    #[command(name = "backup-locations")]
    BackupLocations(GetArgs),
}

/// `velero backup-location …`.
#[derive(Debug, Subcommand)]
pub(crate) enum BackupLocationVerb {
    /// Get backup storage locations.
    Get(GetArgs),
}

/// `velero install` flags.
#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// Provider name for backup and volume storage.
    #[arg(long)]
    pub provider: Option<String>,
    /// Name of the object storage bucket where backups should be stored.
    #[arg(long, allow_hyphen_values = true)]
    pub bucket: Option<String>,
    /// Prefix under which all Velero data should be stored within the bucket.
    #[arg(long)]
    pub prefix: Option<String>,
    /// File containing credentials for backup and volume provider.
    #[arg(long)]
    pub secret_file: Option<PathBuf>,
    /// Confirms that no Secret is created.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub no_secret: bool,
    /// Image to use for the Velero server pods.
    #[arg(long)]
    pub image: Option<String>,
    /// Plugin container images to install into the Velero Deployment.
    #[arg(long)]
    pub plugins: Option<String>,
    /// Configuration to use for the backup storage location (key1=value1,key2=value2).
    #[arg(long, action = clap::ArgAction::Append)]
    pub backup_location_config: Vec<String>,
    /// Configuration to use for the volume snapshot location (key1=value1,key2=value2).
    #[arg(long, action = clap::ArgAction::Append)]
    pub snapshot_location_config: Vec<String>,
    /// Whether to create a volume snapshot location.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", value_parser = parse_go_bool)]
    pub use_volume_snapshots: bool,
    /// Do not create a default backup storage location.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub no_default_backup_location: bool,
    /// Wait for the Velero Deployment to be ready.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub wait: bool,
    /// Run the server in restore-only mode.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub restore_only: bool,
    /// Comma-separated Velero feature flags set on the server.
    #[arg(long, default_value = "")]
    pub features: String,
    /// Labels to add to the Velero pod (key1=value1,key2=value2).
    #[arg(long, action = clap::ArgAction::Append)]
    pub pod_labels: Vec<String>,
    /// Annotations to add to the Velero pod (key1=value1,key2=value2).
    #[arg(long, action = clap::ArgAction::Append)]
    pub pod_annotations: Vec<String>,
    /// Annotations to add to the Velero ServiceAccount (key1=value1,key2=value2).
    #[arg(long = "sa-annotations", action = clap::ArgAction::Append)]
    pub sa_annotations: Vec<String>,
    /// How often garbage collection runs for expired backups (a Go duration).
    #[arg(long)]
    pub garbage_collection_frequency: Option<String>,
    /// Create restic daemonset.
    #[arg(long)]
    pub use_restic: bool,
    /// Words that are no flag's value: velero's install command accepts and ignores them (so an
    /// empty `$BUCKET` shows up as the bucket-name error, as with velero).
    #[arg(hide = true)]
    pub ignored: Vec<String>,
}

/// Filters shared by `backup create` and `schedule create`.
#[derive(Debug, Args, Clone)]
pub(crate) struct BackupFilterArgs {
    /// How long before the backup can be garbage collected (a Go duration).
    #[arg(long)]
    pub ttl: Option<String>,
    /// Namespaces to include in the backup (use '*' for all namespaces).
    #[arg(long, default_value = "*")]
    pub include_namespaces: String,
    /// Namespaces to exclude from the backup.
    #[arg(long)]
    pub exclude_namespaces: Option<String>,
    /// Resources to include in the backup, formatted as resource.group.
    #[arg(long)]
    pub include_resources: Option<String>,
    /// Resources to exclude from the backup, formatted as resource.group.
    #[arg(long)]
    pub exclude_resources: Option<String>,
    /// Labels to apply to the backup (key1=value1,key2=value2).
    #[arg(long, action = clap::ArgAction::Append)]
    pub labels: Vec<String>,
    /// Location in which to store the backup.
    #[arg(long)]
    pub storage_location: Option<String>,
    /// Locations where volume snapshots should be stored.
    #[arg(long, value_delimiter = ',')]
    pub volume_snapshot_locations: Vec<String>,
    /// Only back up resources matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// How long to wait for CSI snapshot creation before timeout (a Go duration).
    #[arg(long)]
    pub csi_snapshot_timeout: Option<String>,
    /// Take snapshots of PersistentVolumes as part of the backup.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub snapshot_volumes: Option<bool>,
    /// Include cluster-scoped resources in the backup.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub include_cluster_resources: Option<bool>,
    /// Use restic by default to back up all pod volumes.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub default_volumes_to_restic: Option<bool>,
}

/// `velero backup create`.
#[derive(Debug, Args)]
pub(crate) struct BackupCreateArgs {
    /// The backup's name.
    pub name: Option<String>,
    /// The filters.
    #[command(flatten)]
    pub filters: BackupFilterArgs,
    /// Create a backup from the template of an existing schedule.
    #[arg(long)]
    pub from_schedule: Option<String>,
    /// Wait for the operation to complete.
    #[arg(short = 'w', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub wait: bool,
}

/// `velero schedule create`.
#[derive(Debug, Args)]
pub(crate) struct ScheduleCreateArgs {
    /// The schedule's name.
    pub name: String,
    /// A cron expression or `@every <duration>`.
    #[arg(long)]
    pub schedule: Option<String>,
    /// The backup filters of the template.
    #[command(flatten)]
    pub filters: BackupFilterArgs,
    /// Whether backups created by this schedule get it as their owner.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub use_owner_references_in_backup: bool,
    /// Create the schedule paused.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub paused: bool,
}

/// `velero restore create`.
#[derive(Debug, Args)]
pub(crate) struct RestoreCreateArgs {
    /// The restore's name (default: `<backup or schedule>-<timestamp>`).
    pub name: Option<String>,
    /// Backup to restore from.
    #[arg(long)]
    pub from_backup: Option<String>,
    /// Schedule to restore from.
    #[arg(long)]
    pub from_schedule: Option<String>,
    /// Namespaces to include in the restore (use '*' for all namespaces).
    #[arg(long, default_value = "*")]
    pub include_namespaces: String,
    /// Namespaces to exclude from the restore.
    #[arg(long)]
    pub exclude_namespaces: Option<String>,
    /// Namespace mappings from name in the backup to desired restored name (src1:dst1,src2:dst2).
    #[arg(long, action = clap::ArgAction::Append)]
    pub namespace_mappings: Vec<String>,
    /// Labels to apply to the restore (key1=value1,key2=value2).
    #[arg(long, action = clap::ArgAction::Append)]
    pub labels: Vec<String>,
    /// Resources to include in the restore, formatted as resource.group.
    #[arg(long)]
    pub include_resources: Option<String>,
    /// Resources to exclude from the restore, formatted as resource.group.
    #[arg(long)]
    pub exclude_resources: Option<String>,
    /// Policy for resources that already exist: none or update.
    #[arg(long)]
    pub existing_resource_policy: Option<String>,
    /// Resources whose status is restored.
    #[arg(long)]
    pub status_include_resources: Option<String>,
    /// Resources whose status is not restored.
    #[arg(long)]
    pub status_exclude_resources: Option<String>,
    /// Only restore resources matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Whether to restore volumes from snapshots.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub restore_volumes: Option<bool>,
    /// Whether to preserve nodeports of Services when restoring.
    #[arg(long = "preserve-nodeports", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub preserve_nodeports: Option<bool>,
    /// Include cluster-scoped resources in the restore.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub include_cluster_resources: Option<bool>,
    /// With --from-schedule, also consider PartiallyFailed backups.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = parse_go_bool)]
    pub allow_partially_failed: Option<bool>,
    /// Wait for the operation to complete.
    #[arg(short = 'w', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub wait: bool,
}

/// `get` verbs.
#[derive(Debug, Args)]
pub(crate) struct GetArgs {
    /// Names to get (all when none).
    pub names: Vec<String>,
    /// Only show items matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Output display format: table, json or yaml.
    #[arg(short = 'o', long, default_value = "table")]
    pub output: String,
}

/// `describe` verbs.
#[derive(Debug, Args)]
pub(crate) struct DescribeArgs {
    /// Names to describe (all when none).
    pub names: Vec<String>,
    /// Only show items matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Display additional detail in the command output.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub details: bool,
    /// How the files read from object storage are fetched.
    #[command(flatten)]
    pub download: DownloadFlags,
}

/// The TLS flags of every verb that downloads from object storage.
#[derive(Debug, Args, Default)]
pub(crate) struct DownloadFlags {
    /// If true, the object store's TLS certificate will not be checked for validity. This is insecure and susceptible to man-in-the-middle attacks. Not recommended for production.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub insecure_skip_tls_verify: bool,
    /// Path to a certificate bundle to use when verifying TLS connections.
    #[arg(long)]
    pub cacert: Option<String>,
}

/// `backup logs` / `restore logs`.
#[derive(Debug, Args)]
pub(crate) struct LogsArgs {
    /// The backup or restore.
    pub name: String,
    /// How long to wait to receive logs.
    #[arg(long, default_value = "1m")]
    pub timeout: String,
    /// How the log is fetched.
    #[command(flatten)]
    pub download: DownloadFlags,
}

/// `backup download`.
#[derive(Debug, Args)]
pub(crate) struct DownloadArgs {
    /// The backup.
    pub name: String,
    /// Path to output file. Defaults to <NAME>-data.tar.gz in the current directory.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Forces the download and will overwrite file if it exists already.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub force: bool,
    /// Maximum time to wait to process download request.
    #[arg(long, default_value = "1m")]
    pub timeout: String,
    /// How the tarball is fetched.
    #[command(flatten)]
    pub download: DownloadFlags,
}

/// A `--timeout` flag's value.
pub(crate) fn timeout_flag(value: &str) -> Result<std::time::Duration, VeleroCliError> {
    let nanos = duration_flag("--timeout", Some(value))?;
    Ok(std::time::Duration::from_nanos(u64::try_from(nanos).unwrap_or(0)))
}

/// `backup delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// Names to delete.
    pub names: Vec<String>,
    /// Confirm deletion.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub confirm: bool,
    /// Delete all backups.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub all: bool,
    /// Delete all backups matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
}

/// `schedule pause|unpause`.
#[derive(Debug, Args)]
pub(crate) struct SelectArgs {
    /// Names to act on.
    pub names: Vec<String>,
    /// Act on all schedules.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub all: bool,
    /// Act on schedules matching this label selector.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
}

/// `velero version`.
#[derive(Debug, Args)]
pub(crate) struct VersionArgs {
    /// Only get velero client version, not server version.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = parse_go_bool)]
    pub client_only: bool,
}

/// Go's `strconv.ParseBool`, which pflag uses for boolean flags.
pub(crate) fn parse_go_bool(text: &str) -> Result<bool, String> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {text:?}: invalid syntax")),
    }
}

/// A velero `StringArray` flag: the value split on commas (`a,b` → `[a, b]`).
pub(crate) fn string_array(value: Option<&str>) -> Option<Vec<String>> {
    value.map(|v| v.split(',').map(str::to_string).collect())
}

/// A velero `Map` flag: every occurrence is a CSV record of `key<kv>value` entries (quotes let a
/// value hold the entry delimiter); later keys override earlier ones.
pub(crate) fn parse_map(flag: &str, occurrences: &[String], entry: char, kv: char) -> Result<BTreeMap<String, String>, VeleroCliError> {
    let mut map = BTreeMap::new();
    for occurrence in occurrences {
        let invalid = |reason: String| VeleroCliError::InvalidFlag {
            flag: flag.to_string(),
            value: occurrence.clone(),
            reason,
        };
        for part in csv_fields(occurrence, entry).map_err(|e| invalid(format!("error parsing {occurrence:?}: {e}")))? {
            let Some((key, value)) = part.split_once(kv) else {
                return Err(invalid(format!("error parsing {part:?}")));
            };
            map.insert(key.to_string(), value.to_string());
        }
    }
    Ok(map)
}

/// Splits one CSV record (Go's `encoding/csv` with a custom delimiter, one line).
fn csv_fields(text: &str, delimiter: char) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err("extraneous or missing \" in quoted-field".to_string()),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(c) if c == delimiter => fields.push(field),
                Some(_) => return Err("extraneous or missing \" in quoted-field".to_string()),
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(c) if c == delimiter => break,
                    Some('"') => return Err("bare \" in non-quoted-field".to_string()),
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

/// A Go `time.Duration` flag value, in nanoseconds (`time.ParseDuration`).
pub(crate) fn parse_go_duration(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.find(|c: char| !c.is_ascii_digit()).unwrap_or(after_dot.len());
            frac_part = &after_dot[..frac_len];
            rest = &after_dot[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = rest.find(|c: char| c == '.' || c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale: u128 = match unit {
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => return Err(format!("time: unknown unit {other:?} in duration {text:?}")),
        };
        let whole: u128 = if int_part.is_empty() {
            0
        } else {
            int_part.parse().map_err(|_| invalid())?
        };
        let mut value = whole.checked_mul(scale).ok_or_else(invalid)?;
        let mut frac_scale = scale;
        for digit in frac_part.bytes() {
            frac_scale /= 10;
            value += u128::from(digit - b'0') * frac_scale;
        }
        total = total.checked_add(value).ok_or_else(invalid)?;
        if total > i64::MAX as u128 {
            return Err(invalid());
        }
    }
    let total = total as i64;
    Ok(if negative { -total } else { total })
}

/// Go's `time.Duration.String()` for `nanos` nanoseconds (`336h0m0s`, `1.5s`, `0s`, `500ms`).
pub(crate) fn go_duration_string(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let value = u128::from(nanos.unsigned_abs());
    let fraction = |whole: u128, part: u128, digits: u32| -> String {
        if part == 0 {
            return whole.to_string();
        }
        let text = format!("{part:0width$}", width = digits as usize);
        format!("{whole}.{}", text.trim_end_matches('0'))
    };
    if value < 1_000_000_000 {
        let (unit, div, digits) = if value < 1_000 {
            ("ns", 1, 0)
        } else if value < 1_000_000 {
            ("µs", 1_000, 3)
        } else {
            ("ms", 1_000_000, 6)
        };
        return format!("{sign}{}{unit}", fraction(value / div, value % div, digits));
    }
    let secs = value / 1_000_000_000;
    let nanos_part = value % 1_000_000_000;
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let mut out = sign.to_string();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&fraction(s, nanos_part, 9));
    out.push('s');
    out
}

/// A duration flag checked the way pflag checks it; the error names flag and value.
pub(crate) fn duration_flag(flag: &str, value: Option<&str>) -> Result<i64, VeleroCliError> {
    match value {
        None => Ok(0),
        Some(text) => parse_go_duration(text).map_err(|reason| VeleroCliError::InvalidFlag {
            flag: flag.to_string(),
            value: text.to_string(),
            reason,
        }),
    }
}

/// `metav1.ParseToLabelSelector`: `a=b` and `a==b` become `matchLabels`; `!=`, `in`, `notin`,
/// exists and does-not-exist become `matchExpressions`; `>` and `<` are refused.
pub(crate) fn parse_selector(flag: &str, text: &str) -> Result<LabelSelector, VeleroCliError> {
    let invalid = |reason: String| VeleroCliError::InvalidFlag {
        flag: flag.to_string(),
        value: text.to_string(),
        reason,
    };
    let parsed = drdrill_kube_sim::selectors::LabelSelector::parse(text).map_err(|e| invalid(e.to_string()))?;
    // The canonical text has validated keys and values (no spaces, parentheses, `=` or `!`), one
    // requirement per top-level comma, sorted by key.
    let canonical = parsed.to_string();
    let mut selector = LabelSelector::default();
    let mut labels = BTreeMap::new();
    let mut expressions = Vec::new();
    for requirement in split_top_level(&canonical) {
        let expression = |key: &str, operator: &str, values: Option<Vec<String>>| LabelSelectorRequirement {
            key: key.to_string(),
            operator: operator.to_string(),
            values,
        };
        if let Some((key, values)) = requirement.split_once(" notin (") {
            expressions.push(expression(key, "NotIn", Some(paren_values(values))));
        } else if let Some((key, values)) = requirement.split_once(" in (") {
            expressions.push(expression(key, "In", Some(paren_values(values))));
        } else if let Some(key) = requirement.strip_prefix('!') {
            expressions.push(expression(key, "DoesNotExist", None));
        } else if let Some((key, value)) = requirement.split_once("!=") {
            expressions.push(expression(key, "NotIn", Some(vec![value.to_string()])));
        } else if let Some((key, value)) = requirement.split_once("==").or_else(|| requirement.split_once('=')) {
            labels.insert(key.to_string(), value.to_string());
        } else if let Some(op) = [">", "<"].into_iter().find(|op| requirement.contains(op)) {
            return Err(invalid(format!("{op:?} is not a valid label selector operator")));
        } else {
            expressions.push(expression(requirement, "Exists", None));
        }
    }
    if !labels.is_empty() {
        selector.match_labels = Some(labels);
    }
    if !expressions.is_empty() {
        selector.match_expressions = Some(expressions);
    }
    Ok(selector)
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < text.len() {
        parts.push(&text[start..]);
    }
    parts
}

fn paren_values(text: &str) -> Vec<String> {
    text.trim_end_matches(')')
        .split(',')
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// `metav1.FormatLabelSelector`: the selector's text, `<none>` when it selects nothing or everything.
pub(crate) fn format_selector(selector: Option<&LabelSelector>) -> String {
    let Some(selector) = selector else {
        return "<none>".to_string();
    };
    let Ok(value) = serde_json::to_value(selector) else {
        return "<error>".to_string();
    };
    match drdrill_kube_sim::selectors::LabelSelector::from_object(&value) {
        Ok(parsed) => {
            let text = parsed.to_string();
            if text.is_empty() { "<none>".to_string() } else { text }
        }
        Err(_) => "<error>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_and_print_like_go() {
        let cases = [
            ("336h0m0s", 336 * 3_600_000_000_000i64, "336h0m0s"),
            ("24h", 24 * 3_600_000_000_000, "24h0m0s"),
            ("1.5h", 5_400_000_000_000, "1h30m0s"),
            ("90s", 90_000_000_000, "1m30s"),
            ("1.5s", 1_500_000_000, "1.5s"),
            ("500ms", 500_000_000, "500ms"),
            ("0", 0, "0s"),
            ("-2m", -120_000_000_000, "-2m0s"),
            ("2µs", 2_000, "2µs"),
        ];
        for (text, nanos, printed) in cases {
            assert_eq!(parse_go_duration(text), Ok(nanos), "{text}");
            assert_eq!(go_duration_string(nanos), printed, "{text}");
        }
        assert_eq!(parse_go_duration("336"), Err("time: missing unit in duration \"336\"".to_string()));
        assert_eq!(
            parse_go_duration("3d"),
            Err("time: unknown unit \"d\" in duration \"3d\"".to_string())
        );
        assert_eq!(parse_go_duration(""), Err("time: invalid duration \"\"".to_string()));
        assert_eq!(parse_go_duration("h"), Err("time: invalid duration \"h\"".to_string()));
    }

    #[test]
    fn maps_accumulate_and_honour_quotes() {
        let map = parse_map(
            "--backup-location-config",
            &["region=minio,s3Url=http://x:9000".to_string(), "\"a=b,c\",region=eu".to_string()],
            ',',
            '=',
        )
        .expect("parses");
        assert_eq!(map.get("region").map(String::as_str), Some("eu"));
        assert_eq!(map.get("a").map(String::as_str), Some("b,c"));
        assert_eq!(map.get("s3Url").map(String::as_str), Some("http://x:9000"));
        let err = parse_map("--backup-location-config", &["region".to_string()], ',', '=').expect_err("no =");
        assert!(err.to_string().contains("--backup-location-config"), "{err}");
    }

    #[test]
    fn selectors_become_label_selectors_and_print_back() {
        let selector = parse_selector("--selector", "app=web,tier notin (db),!legacy,zone in (b,a)").expect("parses");
        assert_eq!(selector.match_labels, Some([("app".to_string(), "web".to_string())].into()));
        let expressions = selector.match_expressions.clone().expect("expressions");
        assert_eq!(expressions.len(), 3);
        assert_eq!(format_selector(Some(&selector)), "app=web,!legacy,tier notin (db),zone in (a,b)");
        assert_eq!(format_selector(None), "<none>");
        assert_eq!(format_selector(Some(&LabelSelector::default())), "<none>");
        let err = parse_selector("--selector", "app in (").expect_err("bad");
        assert!(err.to_string().contains("--selector"), "{err}");
        assert!(parse_selector("-l", "count>3").is_err());
    }

    #[test]
    fn go_bools() {
        assert_eq!(parse_go_bool("false"), Ok(false));
        assert_eq!(parse_go_bool("T"), Ok(true));
        assert!(parse_go_bool("yes").is_err());
    }
}
