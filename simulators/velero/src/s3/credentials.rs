//! The credentials file the runbooks hand to `velero install --secret-file`: the AWS shared
//! credentials format, as in
//!
//! ```text
//! [default]
//! aws_access_key_id=minio
//! aws_secret_access_key=minio123
//! ```
//!
//! Profiles are `[name]` sections; `key=value` or `key = value` lines belong to the section above
//! them; lines starting with `#` or `;` are comments; blank lines, surrounding whitespace, a UTF-8
//! byte-order mark and CRLF line ends are ignored. Values are taken verbatim after trimming (no
//! inline comments: a secret may contain `#`). Keys other than the three AWS credential keys are
//! accepted and ignored, as the AWS SDKs do. Errors name the line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

/// The profile Velero reads when the BackupStorageLocation names none.
pub const DEFAULT_PROFILE: &str = "default";

/// An access key and its secret, as a credentials file profile holds them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `aws_access_key_id`.
    pub access_key_id: String,
    /// `aws_secret_access_key`.
    pub secret_access_key: String,
    /// `aws_session_token`, when the profile has one.
    pub session_token: Option<String>,
}

impl Credentials {
    /// Credentials from an access key and secret, without a session token.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }

    /// Renders these credentials as a one-profile credentials file (`[default]` when `profile`
    /// is [`DEFAULT_PROFILE`]), exactly as the runbook writes it.
    pub fn to_file_contents(&self, profile: &str) -> String {
        let mut out = format!(
            "[{profile}]\naws_access_key_id={}\naws_secret_access_key={}\n",
            self.access_key_id, self.secret_access_key
        );
        if let Some(token) = &self.session_token {
            out.push_str(&format!("aws_session_token={token}\n"));
        }
        out
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Why a credentials file could not be read or used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    /// The file could not be read.
    #[error("cannot read credentials file {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's reason.
        message: String,
    },
    /// A `key=value` line before any `[profile]` header.
    #[error("line {line}: `{key}` is outside any [profile] section")]
    OutsideProfile {
        /// 1-based line number.
        line: usize,
        /// The key on that line.
        key: String,
    },
    /// A line that is neither a header, a comment, blank, nor `key=value`.
    #[error("line {line}: expected `[profile]`, `key=value` or a comment, found `{text}`")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// The line, trimmed.
        text: String,
    },
    /// A `[` header without its closing `]`, or with an empty name.
    #[error("line {line}: bad profile header `{text}`")]
    BadHeader {
        /// 1-based line number.
        line: usize,
        /// The line, trimmed.
        text: String,
    },
    /// `=value` with no key.
    #[error("line {line}: missing key before `=`")]
    EmptyKey {
        /// 1-based line number.
        line: usize,
    },
    /// The same profile header twice.
    #[error("line {line}: profile [{profile}] already defined on line {first_line}")]
    DuplicateProfile {
        /// 1-based line number of the second header.
        line: usize,
        /// The profile.
        profile: String,
        /// 1-based line number of the first header.
        first_line: usize,
    },
    /// The same key twice in one profile.
    #[error("line {line}: `{key}` already set in profile [{profile}] on line {first_line}")]
    DuplicateKey {
        /// 1-based line number of the second assignment.
        line: usize,
        /// The key.
        key: String,
        /// The profile.
        profile: String,
        /// 1-based line number of the first assignment.
        first_line: usize,
    },
    /// A credential key with an empty value.
    #[error("line {line}: `{key}` has an empty value")]
    EmptyValue {
        /// 1-based line number.
        line: usize,
        /// The key.
        key: String,
    },
    /// The requested profile is not in the file.
    #[error("profile [{profile}] not found in credentials file (profiles: {available})")]
    NoSuchProfile {
        /// The requested profile.
        profile: String,
        /// The profiles the file has, comma-separated, or `none`.
        available: String,
    },
    /// The profile lacks a required key.
    #[error("profile [{profile}] (line {line}) has no `{key}`")]
    MissingKey {
        /// The profile.
        profile: String,
        /// 1-based line number of its header.
        line: usize,
        /// The missing key.
        key: &'static str,
    },
}

#[derive(Debug, Clone, Default)]
struct Profile {
    line: usize,
    keys: BTreeMap<String, (usize, String)>,
}

/// A parsed credentials file: its profiles, each a set of keys. Use [`CredentialsFile::profile`]
/// to get [`Credentials`] out of it.
#[derive(Debug, Clone, Default)]
pub struct CredentialsFile {
    profiles: BTreeMap<String, Profile>,
}

impl CredentialsFile {
    /// Parses the text of a credentials file.
    pub fn parse(text: &str) -> Result<CredentialsFile, CredentialsError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut file = CredentialsFile::default();
        let mut current: Option<String> = None;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix('[') {
                let name = rest.strip_suffix(']').map(str::trim).unwrap_or_default();
                if name.is_empty() {
                    return Err(CredentialsError::BadHeader {
                        line,
                        text: trimmed.to_string(),
                    });
                }
                if let Some(first) = file.profiles.get(name) {
                    return Err(CredentialsError::DuplicateProfile {
                        line,
                        profile: name.to_string(),
                        first_line: first.line,
                    });
                }
                file.profiles.insert(
                    name.to_string(),
                    Profile {
                        line,
                        keys: BTreeMap::new(),
                    },
                );
                current = Some(name.to_string());
                continue;
            }
            let Some((key, value)) = trimmed.split_once('=') else {
                return Err(CredentialsError::Malformed {
                    line,
                    text: trimmed.to_string(),
                });
            };
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() {
                return Err(CredentialsError::EmptyKey { line });
            }
            let Some(profile_name) = &current else {
                return Err(CredentialsError::OutsideProfile {
                    line,
                    key: key.to_string(),
                });
            };
            let profile = file.profiles.get_mut(profile_name).expect("current profile exists");
            if let Some((first_line, _)) = profile.keys.get(key) {
                return Err(CredentialsError::DuplicateKey {
                    line,
                    key: key.to_string(),
                    profile: profile_name.clone(),
                    first_line: *first_line,
                });
            }
            let is_credential = matches!(key, "aws_access_key_id" | "aws_secret_access_key" | "aws_session_token");
            if is_credential && value.is_empty() {
                return Err(CredentialsError::EmptyValue {
                    line,
                    key: key.to_string(),
                });
            }
            profile.keys.insert(key.to_string(), (line, value.to_string()));
        }
        Ok(file)
    }

    /// Reads and parses a credentials file.
    pub fn load(path: &Path) -> Result<CredentialsFile, CredentialsError> {
        let text = std::fs::read_to_string(path).map_err(|e| CredentialsError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        CredentialsFile::parse(&text)
    }

    /// The profile names, sorted.
    pub fn profile_names(&self) -> Vec<&str> {
        self.profiles.keys().map(String::as_str).collect()
    }

    /// The credentials of one profile; both the access key and the secret must be present.
    pub fn profile(&self, name: &str) -> Result<Credentials, CredentialsError> {
        let Some(profile) = self.profiles.get(name) else {
            let names = self.profile_names();
            return Err(CredentialsError::NoSuchProfile {
                profile: name.to_string(),
                available: if names.is_empty() { "none".to_string() } else { names.join(", ") },
            });
        };
        let get = |key: &'static str| {
            profile.keys.get(key).map(|(_, v)| v.clone()).ok_or(CredentialsError::MissingKey {
                profile: name.to_string(),
                line: profile.line,
                key,
            })
        };
        Ok(Credentials {
            access_key_id: get("aws_access_key_id")?,
            secret_access_key: get("aws_secret_access_key")?,
            session_token: profile.keys.get("aws_session_token").map(|(_, v)| v.clone()),
        })
    }

    /// The `[default]` profile's credentials.
    pub fn default_profile(&self) -> Result<Credentials, CredentialsError> {
        self.profile(DEFAULT_PROFILE)
    }
}

/// Parses a credentials file's text and returns one profile's credentials.
pub fn parse_credentials(text: &str, profile: &str) -> Result<Credentials, CredentialsError> {
    CredentialsFile::parse(text)?.profile(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbook_file_exactly() {
        let creds = parse_credentials(
            "[default]\naws_access_key_id=minio\naws_secret_access_key=minio123",
            DEFAULT_PROFILE,
        )
        .unwrap();
        assert_eq!(creds, Credentials::new("minio", "minio123"));
    }

    #[test]
    fn round_trips_through_to_file_contents() {
        let creds = Credentials::new("AKIA", "s/e+c=r#et");
        let text = creds.to_file_contents("default");
        assert_eq!(text, "[default]\naws_access_key_id=AKIA\naws_secret_access_key=s/e+c=r#et\n");
        assert_eq!(parse_credentials(&text, "default").unwrap(), creds);
    }

    #[test]
    fn whitespace_comments_crlf_bom_and_profiles() {
        let text = "\u{feff}# velero credentials\r\n; another comment\r\n\r\n  [ default ]  \r\n\
                    aws_access_key_id = minio \r\n\taws_secret_access_key=  minio123\r\n\
                    region = minio\r\n[backup]\r\naws_access_key_id=b\r\naws_secret_access_key=b=2\r\n\
                    aws_session_token=tok\r\n";
        let file = CredentialsFile::parse(text).unwrap();
        assert_eq!(file.profile_names(), vec!["backup", "default"]);
        assert_eq!(file.default_profile().unwrap(), Credentials::new("minio", "minio123"));
        let backup = file.profile("backup").unwrap();
        assert_eq!(backup.secret_access_key, "b=2", "only the first `=` splits");
        assert_eq!(backup.session_token.as_deref(), Some("tok"));
    }

    #[test]
    fn errors_name_the_line() {
        let cases: &[(&str, CredentialsError)] = &[
            (
                "aws_access_key_id=minio\n",
                CredentialsError::OutsideProfile {
                    line: 1,
                    key: "aws_access_key_id".into(),
                },
            ),
            (
                "[default]\naws_access_key_id minio\n",
                CredentialsError::Malformed {
                    line: 2,
                    text: "aws_access_key_id minio".into(),
                },
            ),
            (
                "\n[default\n",
                CredentialsError::BadHeader {
                    line: 2,
                    text: "[default".into(),
                },
            ),
            (
                "[]\n",
                CredentialsError::BadHeader {
                    line: 1,
                    text: "[]".into(),
                },
            ),
            ("[default]\n=x\n", CredentialsError::EmptyKey { line: 2 }),
            (
                "[default]\n\n[default]\n",
                CredentialsError::DuplicateProfile {
                    line: 3,
                    profile: "default".into(),
                    first_line: 1,
                },
            ),
            (
                "[default]\naws_access_key_id=a\n# c\naws_access_key_id=b\n",
                CredentialsError::DuplicateKey {
                    line: 4,
                    key: "aws_access_key_id".into(),
                    profile: "default".into(),
                    first_line: 2,
                },
            ),
            (
                "[default]\naws_secret_access_key=\n",
                CredentialsError::EmptyValue {
                    line: 2,
                    key: "aws_secret_access_key".into(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(&CredentialsFile::parse(text).unwrap_err(), expected, "input {text:?}");
        }
        let message = CredentialsFile::parse("[default]\nnonsense\n").unwrap_err().to_string();
        assert!(message.starts_with("line 2:"), "{message}");
    }

    #[test]
    fn missing_profile_and_missing_keys() {
        let file = CredentialsFile::parse("[a]\naws_access_key_id=x\n").unwrap();
        let err = file.default_profile().unwrap_err();
        assert_eq!(err.to_string(), "profile [default] not found in credentials file (profiles: a)");
        assert_eq!(
            file.profile("a").unwrap_err(),
            CredentialsError::MissingKey {
                profile: "a".into(),
                line: 1,
                key: "aws_secret_access_key"
            }
        );
        let empty = CredentialsFile::parse("# nothing\n").unwrap();
        assert!(empty.default_profile().unwrap_err().to_string().contains("profiles: none"));
    }

    #[test]
    fn debug_redacts_the_secret() {
        let shown = format!("{:?}", Credentials::new("minio", "minio123"));
        assert!(shown.contains("minio") && !shown.contains("minio123"), "{shown}");
    }

    #[test]
    fn load_reports_the_path() {
        let err = CredentialsFile::load(Path::new("/nonexistent/credentials-velero")).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/credentials-velero"), "{err}");
    }
}
