//! The `velero` CLI verbs the runbooks use, emulated as a client of the Kubernetes API (and, for
//! `backup logs` / `describe --details`, of the location's object store), with velero v1.9's
//! flags, wording and tables.
//!
//! [`run`] takes a runbook command line's words (without the leading `velero`); [`run_line`]
//! splits a whole line the way a shell would. Every verb is client-side as in velero: `install`
//! creates the CRDs, namespace, RBAC, credentials Secret, Deployment and locations; `backup
//! create`, `restore create` and `schedule create` create the objects the Velero server (the
//! simulator's controllers, or a real Velero) then processes; `--wait` polls them.
//!
//! The runbook's version rule is enforced: a CLI older than v1.9 refuses to work against a
//! cluster whose Velero server or CRDs are v1.9 or later, and tells to upgrade to v1.9.5.

mod args;
mod backup;
mod download;
mod install;
mod location;
mod restore;
mod schedule;
pub mod tables;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use drdrill_kube_sim::clock::Clock;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::Api;
use serde::Serialize;

use args::{BackupLocationVerb, BackupVerb, Cli, CreateVerb, GetVerb, RestoreVerb, ScheduleVerb, Verb};

pub use backup::valid_label_value;
pub use download::DownloadError;
pub use install::{PLUGIN_VOLUME, plugin_container_name};

/// The CLI version the emulator reports unless told otherwise (the runbook's required version).
pub const DEFAULT_CLI_VERSION: &str = "v1.9.5";

/// How long `describe` waits for a file from object storage (velero's `downloadRequestTimeout`).
pub(crate) const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(30);

/// The version a too-old CLI is told to upgrade to.
pub const REQUIRED_CLI_VERSION: &str = "v1.9.5";

/// Where and how the emulated CLI runs.
#[derive(Clone)]
pub struct VeleroEnv {
    /// A client of the cluster (overridden by a `--kubeconfig` flag on the command line).
    pub client: Client,
    /// Velero's namespace (`velero`; `--namespace`/`-n` overrides it per command).
    pub namespace: String,
    /// "Now" for EXPIRES / LAST BACKUP columns, generated names and `--wait` deadlines.
    pub clock: Arc<dyn Clock>,
    /// The version of the emulated CLI, e.g. `v1.9.5` or `v1.8.1`.
    pub cli_version: String,
    /// How often `--wait` polls.
    pub wait_poll: Duration,
    /// How long `--wait` waits before giving up (in polls × `wait_poll`, or on the clock).
    pub wait_timeout: Duration,
    /// The terminal's `KUBECONFIG` list: when set, the CLI talks to the cluster of its current
    /// context (or `--kubecontext`), as velero does, instead of `client`.
    pub kubeconfigs: Vec<std::path::PathBuf>,
}

impl VeleroEnv {
    /// The defaults: namespace `velero`, CLI v1.9.5, polling every 200ms for up to 5 minutes.
    pub fn new(client: Client, clock: Arc<dyn Clock>) -> Self {
        VeleroEnv {
            client,
            namespace: drdrill_apis::velero::DEFAULT_NAMESPACE.to_string(),
            clock,
            cli_version: DEFAULT_CLI_VERSION.to_string(),
            wait_poll: Duration::from_millis(200),
            wait_timeout: Duration::from_secs(300),
            kubeconfigs: Vec::new(),
        }
    }
}

/// Why a velero command failed.
#[derive(Debug, thiserror::Error)]
pub enum VeleroCliError {
    /// The command line does not parse (unknown verb or flag, missing value); clap's message.
    #[error("{0}")]
    Usage(String),
    /// A flag's value is not acceptable (a bad duration, selector or `k=v` list).
    #[error("invalid argument {value:?} for {flag:?} flag: {reason}")]
    InvalidFlag {
        /// The flag, e.g. `--ttl`.
        flag: String,
        /// The value given.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The flags are valid one by one but not together, or a required one is missing (velero's
    /// own validation message).
    #[error("{0}")]
    Invalid(String),
    /// The object does not exist.
    #[error("{resource} {name:?} not found")]
    NotFound {
        /// Plural resource and group, e.g. `backups.velero.io`.
        resource: String,
        /// The object's name.
        name: String,
    },
    /// A request to the API server failed.
    #[error("{action}: {source}")]
    Api {
        /// What the CLI was doing, naming the object.
        action: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// The `--secret-file` cannot be read or is not a credentials file.
    #[error("--secret-file {path}: {source}")]
    SecretFile {
        /// The file.
        path: String,
        /// What is wrong with it (with its line).
        #[source]
        source: drdrill_velero_sim::s3::CredentialsError,
    },
    /// The CLI is too old for the Velero on the cluster (the runbook's version rule).
    #[error(
        "velero CLI {cli} cannot work with the CRDs used by Velero v1.9 and later ({found}); upgrade the velero CLI to {required} and run the command again"
    )]
    CliTooOld {
        /// The CLI's version.
        cli: String,
        /// What was found on the cluster.
        found: String,
        /// The version to upgrade to.
        required: String,
    },
    /// The emulator's own version setting is not a version.
    #[error("velero CLI version {0:?} is not a semantic version (expected e.g. v1.9.5)")]
    BadCliVersion(String),
    /// `--wait` gave up.
    #[error("timed out after {waited:?} waiting for {what}")]
    WaitTimeout {
        /// What was awaited.
        what: String,
        /// How long.
        waited: Duration,
    },
    /// A file could not be downloaded through a DownloadRequest (`backup logs`, `backup download`).
    #[error("{0}")]
    Download(#[from] download::DownloadError),
    /// The `--kubeconfig` given on the command line cannot be used.
    #[error("--kubeconfig {path}: {message}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// Why.
        message: String,
    },
    /// Writing the output failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs one velero command: `args` are the words after `velero`.
pub async fn run(args: &[String], env: &VeleroEnv, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind;
            return match err.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::DisplayVersion => {
                    write!(out, "{}", err.render())?;
                    Ok(())
                }
                _ => Err(VeleroCliError::Usage(err.render().to_string().trim_end().to_string())),
            };
        }
    };
    let client = match &cli.kubeconfig {
        Some(path) => client_from_kubeconfigs(std::slice::from_ref(path), cli.kubecontext.as_deref()).await?,
        None if !env.kubeconfigs.is_empty() => client_from_kubeconfigs(&env.kubeconfigs, cli.kubecontext.as_deref()).await?,
        None => env.client.clone(),
    };
    let ctx = Ctx {
        client,
        namespace: cli.namespace.clone().unwrap_or_else(|| env.namespace.clone()),
        env: env.clone(),
    };
    let cli_version = parse_version(&env.cli_version).ok_or_else(|| VeleroCliError::BadCliVersion(env.cli_version.clone()))?;
    let client_only = matches!(&cli.command, Verb::Version(v) if v.client_only);
    if !client_only {
        check_version_rule(&ctx, &cli_version, matches!(cli.command, Verb::Install(_))).await?;
    }
    match cli.command {
        Verb::Install(a) => install::install(&ctx, &a, out).await,
        Verb::Backup(BackupVerb::Create(a)) | Verb::Create(CreateVerb::Backup(a)) => backup::create(&ctx, &a, out).await,
        Verb::Backup(BackupVerb::Get(a)) | Verb::Get(GetVerb::Backups(a)) => backup::get(&ctx, &a, out).await,
        Verb::Backup(BackupVerb::Describe(a)) => backup::describe(&ctx, &a, out).await,
        Verb::Backup(BackupVerb::Logs(a)) => backup::logs(&ctx, &a, out).await,
        Verb::Backup(BackupVerb::Download(a)) => backup::download(&ctx, &a, out).await,
        Verb::Backup(BackupVerb::Delete(a)) => backup::delete(&ctx, &a, out).await,
        Verb::Restore(RestoreVerb::Create(a)) | Verb::Create(CreateVerb::Restore(a)) => restore::create(&ctx, &a, out).await,
        Verb::Restore(RestoreVerb::Get(a)) | Verb::Get(GetVerb::Restores(a)) => restore::get(&ctx, &a, out).await,
        Verb::Restore(RestoreVerb::Describe(a)) => restore::describe(&ctx, &a, out).await,
        Verb::Restore(RestoreVerb::Logs(a)) => restore::logs(&ctx, &a, out).await,
        Verb::Schedule(ScheduleVerb::Create(a)) | Verb::Create(CreateVerb::Schedule(a)) => schedule::create(&ctx, &a, out).await,
        Verb::Schedule(ScheduleVerb::Get(a)) | Verb::Get(GetVerb::Schedules(a)) => {
            let with_paused = cli_version >= semver::Version::new(1, 10, 0);
            schedule::get(&ctx, &a, with_paused, out).await
        }
        Verb::Schedule(ScheduleVerb::Pause(a)) => schedule::set_paused(&ctx, &a, true, out).await,
        Verb::Schedule(ScheduleVerb::Unpause(a)) => schedule::set_paused(&ctx, &a, false, out).await,
        Verb::BackupLocation(BackupLocationVerb::Get(a)) | Verb::Get(GetVerb::BackupLocations(a)) => location::get(&ctx, &a, out).await,
        Verb::Version(a) => version(&ctx, a.client_only, out).await,
    }
}

/// Splits a runbook line like a POSIX shell (quotes, backslashes, `\`-newline continuations),
/// drops a leading `velero`, and runs it.
pub async fn run_line(line: &str, env: &VeleroEnv, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    let words = split_command_line(line)?;
    run(&words, env, out).await
}

/// A command line's words without the leading `velero` (shell quoting rules).
pub fn split_command_line(line: &str) -> Result<Vec<String>, VeleroCliError> {
    let mut words = shell_words::split(line).map_err(|e| VeleroCliError::Usage(format!("cannot split {line:?} into words: {e}")))?;
    if words.first().map(String::as_str) == Some("velero") {
        words.remove(0);
    }
    Ok(words)
}

/// What every verb needs.
pub(crate) struct Ctx {
    pub client: Client,
    pub namespace: String,
    pub env: VeleroEnv,
}

impl Ctx {
    pub(crate) fn now(&self) -> jiff::Timestamp {
        self.env.clock.now()
    }
}

/// Maps a client error: 404 becomes velero's `<resource> "<name>" not found`.
pub(crate) fn api_error(resource: &str, name: &str, action: impl FnOnce() -> String) -> impl FnOnce(kube::Error) -> VeleroCliError {
    let (resource, name) = (resource.to_string(), name.to_string());
    move |source| match &source {
        kube::Error::Api(status) if status.code == 404 => VeleroCliError::NotFound { resource, name },
        _ => VeleroCliError::Api { action: action(), source },
    }
}

/// Wraps a client error with what the CLI was doing.
pub(crate) fn api(action: impl FnOnce() -> String) -> impl FnOnce(kube::Error) -> VeleroCliError {
    move |source| VeleroCliError::Api { action: action(), source }
}

/// `v1.9.5` / `1.9.5` / `v1.10.0-rc.1` as a semantic version.
pub(crate) fn parse_version(text: &str) -> Option<semver::Version> {
    semver::Version::parse(text.trim().trim_start_matches('v')).ok()
}

/// Whether `version` belongs to the generation before v1.9 (compared as semver, so v1.10 is newer).
fn before_v1_9(version: &semver::Version) -> bool {
    (version.major, version.minor) < (1, 9)
}

/// The runbook's rule: a CLI older than v1.9 must not run against v1.9+ CRDs or server.
async fn check_version_rule(ctx: &Ctx, cli: &semver::Version, installing: bool) -> Result<(), VeleroCliError> {
    if !before_v1_9(cli) {
        return Ok(());
    }
    let too_old = |found: String| VeleroCliError::CliTooOld {
        cli: format!("v{cli}"),
        found,
        required: REQUIRED_CLI_VERSION.to_string(),
    };
    if installing {
        return Err(too_old(
            "this installer carries only the v1.9+ CRDs, which a pre-v1.9 CLI cannot use".to_string(),
        ));
    }
    if let Some(server) = server_version(ctx).await?
        && let Some(parsed) = parse_version(&server)
        && !before_v1_9(&parsed)
    {
        return Err(too_old(format!("server {server} in namespace {}", ctx.namespace)));
    }
    // The CRDs tell even without a server: v1.9 added `existingResourcePolicy` to restores.
    let crds: Api<CustomResourceDefinition> = Api::all(ctx.client.clone());
    let restores = crds
        .get_opt("restores.velero.io")
        .await
        .map_err(api(|| "get CustomResourceDefinition restores.velero.io".to_string()))?;
    if let Some(crd) = restores {
        let v1_9 = crd.spec.versions.iter().any(|v| {
            serde_json::to_value(&v.schema)
                .ok()
                .and_then(|s| {
                    s.pointer("/openAPIV3Schema/properties/spec/properties/existingResourcePolicy")
                        .cloned()
                })
                .is_some()
        });
        if v1_9 {
            return Err(too_old(
                "CustomResourceDefinition restores.velero.io has the v1.9 schema (spec.existingResourcePolicy)".to_string(),
            ));
        }
    }
    Ok(())
}

/// The server's version: the tag of the `velero` Deployment's image (None without a Deployment).
async fn server_version(ctx: &Ctx) -> Result<Option<String>, VeleroCliError> {
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let deployment = deployments
        .get_opt("velero")
        .await
        .map_err(api(|| format!("get Deployment {}/velero", ctx.namespace)))?;
    Ok(deployment.and_then(|d| {
        let image = d.spec?.template.spec?.containers.into_iter().find(|c| c.name == "velero")?.image?;
        image_tag(&image).map(str::to_string)
    }))
}

/// The tag of an image reference (`velero/velero:v1.9.5` → `v1.9.5`), ignoring a registry port.
pub(crate) fn image_tag(image: &str) -> Option<&str> {
    let name = image.split('@').next().unwrap_or(image);
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    last_segment.split_once(':').map(|(_, tag)| tag)
}

/// `velero version`: the client, then the server (from the Deployment image) and a mismatch
/// warning as velero prints it.
async fn version(ctx: &Ctx, client_only: bool, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    writeln!(out, "Client:")?;
    writeln!(out, "\tVersion: {}", ctx.env.cli_version)?;
    // An emulated CLI has no build commit; velero prints `-` for an unstamped build.
    writeln!(out, "\tGit commit: -")?;
    if client_only {
        return Ok(());
    }
    let Some(server) = server_version(ctx).await? else {
        writeln!(
            out,
            "<error getting server version: no velero Deployment with a tagged image in namespace {}>",
            ctx.namespace
        )?;
        return Ok(());
    };
    writeln!(out, "Server:")?;
    writeln!(out, "\tVersion: {server}")?;
    let (cli, srv) = (parse_version(&ctx.env.cli_version), parse_version(&server));
    if let (Some(cli), Some(srv)) = (cli, srv)
        && (cli.major, cli.minor) != (srv.major, srv.minor)
    {
        let upgrade = if (cli.major, cli.minor) > (srv.major, srv.minor) {
            "server"
        } else {
            "client"
        };
        writeln!(
            out,
            "# WARNING: the client version does not match the server version. Please update {upgrade}"
        )?;
    }
    Ok(())
}

/// A client for `context` (default: the current context) of the kubeconfig files, merged as
/// kubectl merges a `KUBECONFIG` list (the first file that sets a value wins).
async fn client_from_kubeconfigs(paths: &[std::path::PathBuf], context: Option<&str>) -> Result<Client, VeleroCliError> {
    let joined = std::env::join_paths(paths).map_or_else(|_| format!("{paths:?}"), |p| p.to_string_lossy().into_owned());
    let fail = |message: String| VeleroCliError::Kubeconfig {
        path: joined.clone(),
        message,
    };
    let mut merged: Option<kube::config::Kubeconfig> = None;
    for path in paths {
        let next = kube::config::Kubeconfig::read_from(path).map_err(|e| VeleroCliError::Kubeconfig {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        merged = Some(match merged {
            None => next,
            Some(m) => m.merge(next).map_err(|e| fail(e.to_string()))?,
        });
    }
    let kubeconfig = merged.ok_or_else(|| fail("no kubeconfig file".into()))?;
    let options = kube::config::KubeConfigOptions {
        context: context.map(str::to_string),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| fail(e.to_string()))?;
    Client::try_from(config).map_err(|e| fail(e.to_string()))
}

/// `-o json|yaml` as velero prints objects: one item alone, several as a `List`-kind object.
pub(crate) fn print_encoded<T: Serialize>(
    items: &[T],
    list_kind: &str,
    format: &str,
    out: &mut (dyn Write + Send),
) -> Result<(), VeleroCliError> {
    let value = if items.len() == 1 {
        serde_json::to_value(&items[0])
    } else {
        serde_json::to_value(items).map(|items| {
            serde_json::json!({
                "apiVersion": drdrill_apis::velero::API_VERSION,
                "items": items,
                "kind": list_kind,
                "metadata": { "resourceVersion": "" },
            })
        })
    }
    .map_err(|e| VeleroCliError::Invalid(format!("cannot encode {list_kind}: {e}")))?;
    match format {
        "json" => {
            let text = serde_json::to_string_pretty(&value).map_err(|e| VeleroCliError::Invalid(e.to_string()))?;
            writeln!(out, "{text}")?;
        }
        "yaml" => {
            let text = serde_yaml::to_string(&sorted(value)).map_err(|e| VeleroCliError::Invalid(e.to_string()))?;
            writeln!(out, "{text}")?;
        }
        other => {
            return Err(VeleroCliError::Invalid(format!(
                "invalid output format {other:?} - valid values are 'table', 'json', and 'yaml'"
            )));
        }
    }
    Ok(())
}

/// Keys sorted at every level, as Go's YAML marshalling of maps prints them.
fn sorted(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let mut entries: Vec<_> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            serde_json::Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        serde_json::Value::Array(items) => serde_json::Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// Checks `-o` up front, as velero's `ValidateFlags` does.
pub(crate) fn validate_output(format: &str) -> Result<(), VeleroCliError> {
    match format {
        "table" | "json" | "yaml" => Ok(()),
        other => Err(VeleroCliError::Invalid(format!(
            "invalid output format {other:?} - valid values are 'table', 'json', and 'yaml'"
        ))),
    }
}

/// What `velero backup create` and `velero restore create` print after submitting `name` (a
/// Backup or Restore, `noun` = "backup" or "restore"): the hint without `--wait`; with it, the
/// waiting line, a dot per poll until `phase` reports a terminal phase, and the outcome — the
/// same words for both verbs, as velero's shared create/wait code prints them.
pub(crate) async fn report_submitted<P, F, Fut>(
    ctx: &Ctx,
    out: &mut (dyn Write + Send),
    noun: &str,
    name: &str,
    wait: bool,
    mut phase: F,
) -> Result<(), VeleroCliError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<P>, VeleroCliError>>,
    P: TerminalPhase,
{
    writeln!(out, "{} request {name:?} submitted successfully.", capitalized(noun))?;
    if !wait {
        writeln!(
            out,
            "Run `velero {noun} describe {name}` or `velero {noun} logs {name}` for more details."
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "Waiting for {noun} to complete. You may safely press ctrl-c to stop waiting - your {noun} will continue in the background."
    )?;
    let what = format!("{noun} {name:?} to complete");
    let done = poll_until(ctx, &what, out, true, || {
        let next = phase();
        async move { Ok(next.await?.filter(|p| p.is_terminal())) }
    })
    .await?;
    writeln!(
        out,
        "\n{} completed with status: {}. You may check for more information using the commands `velero {noun} describe {name}` and `velero {noun} logs {name}`.",
        capitalized(noun),
        done.as_str()
    )?;
    Ok(())
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// A phase that may end the wait: Backup's and Restore's.
pub(crate) trait TerminalPhase {
    /// Whether nothing more will happen.
    fn is_terminal(&self) -> bool;
    /// As printed.
    fn as_str(&self) -> &'static str;
}

impl TerminalPhase for drdrill_apis::velero::BackupPhase {
    fn is_terminal(&self) -> bool {
        (*self).is_terminal()
    }
    fn as_str(&self) -> &'static str {
        (*self).as_str()
    }
}

impl TerminalPhase for drdrill_apis::velero::RestorePhase {
    fn is_terminal(&self) -> bool {
        (*self).is_terminal()
    }
    fn as_str(&self) -> &'static str {
        (*self).as_str()
    }
}

/// Polls until `done` says the object reached its end, printing a dot per poll as velero's
/// ticker does; gives up after `wait_timeout` (counted in polls, or on the env's clock).
pub(crate) async fn poll_until<T, F, Fut>(
    ctx: &Ctx,
    what: &str,
    out: &mut (dyn Write + Send),
    dots: bool,
    mut check: F,
) -> Result<T, VeleroCliError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, VeleroCliError>>,
{
    let started = ctx.now();
    let mut waited = Duration::ZERO;
    loop {
        if let Some(done) = check().await? {
            return Ok(done);
        }
        let on_clock = ctx.now().duration_since(started).as_secs_f64().max(0.0);
        if waited >= ctx.env.wait_timeout || on_clock >= ctx.env.wait_timeout.as_secs_f64() {
            if dots {
                writeln!(out)?;
            }
            return Err(VeleroCliError::WaitTimeout {
                what: what.to_string(),
                waited: ctx.env.wait_timeout,
            });
        }
        tokio::time::sleep(ctx.env.wait_poll).await;
        waited += ctx.env.wait_poll;
        if dots {
            write!(out, ".")?;
            out.flush()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_as_semver() {
        let v = |s: &str| parse_version(s).expect(s);
        assert!(before_v1_9(&v("v1.8.1")));
        assert!(before_v1_9(&v("v1.8.0")));
        assert!(before_v1_9(&v("0.11.0")));
        assert!(!before_v1_9(&v("v1.9.0")));
        assert!(!before_v1_9(&v("v1.9.5")));
        assert!(!before_v1_9(&v("v1.10.0")), "1.10 is newer than 1.9 (not a string comparison)");
        assert!(!before_v1_9(&v("v2.0.0")));
        assert!(parse_version("latest").is_none());
    }

    #[test]
    fn image_tags() {
        assert_eq!(image_tag("velero/velero:v1.9.5"), Some("v1.9.5"));
        assert_eq!(image_tag("registry:5000/velero/velero:v1.10.0"), Some("v1.10.0"));
        assert_eq!(image_tag("registry:5000/velero/velero"), None);
    }

    #[test]
    fn command_lines_split_like_a_shell() {
        let words = split_command_line(r#"velero create schedule daily-bak --schedule="@every 24h" --ttl 336h0m0s"#).expect("splits");
        assert_eq!(
            words,
            ["create", "schedule", "daily-bak", "--schedule=@every 24h", "--ttl", "336h0m0s"]
        );
        assert!(split_command_line("velero backup create 'unterminated").is_err());
    }
}
