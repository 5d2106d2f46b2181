//! Decoder for Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into JSON.
//!
//! A body is the 4-byte magic `k8s\0` followed by a `runtime.Unknown` envelope
//! {1: typeMeta {1: apiVersion, 2: kind}, 2: raw, 3: contentEncoding, 4: contentType}. The raw
//! bytes are decoded with a schema table ([`descriptors`]) chosen by (apiVersion, kind) into the
//! JSON object kube-apiserver would produce for the same Go value (omitempty rules included).

mod descriptors;

use descriptors::{FieldDesc, KINDS, Kind, MessageDesc, Presence, Render, Shape};
use serde_json::{Map, Value};

/// The 4-byte prefix of every Kubernetes protobuf-encoded object.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// Deepest nesting of unknown groups accepted while skipping.
const MAX_GROUP_DEPTH: usize = 64;

/// Errors from [`decode`]. Use [`ProtobufError::is_unsupported`] or
/// [`ProtobufError::http_status`] to choose between 415 and 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    /// The body does not start with `k8s\0`.
    #[error("protobuf body must start with the magic bytes \"k8s\\x00\", found {found:?}")]
    BadMagic {
        /// The first (up to 4) bytes of the body, escaped.
        found: String,
    },
    /// The data ends before a value is complete.
    #[error(
        "truncated protobuf data in message {message} at {path}: value at byte offset {offset} \
         needs {needed} byte(s) but only {available} remain"
    )]
    Truncated {
        /// Protobuf message being decoded.
        message: &'static str,
        /// JSON-style path of the field being decoded.
        path: String,
        /// Absolute byte offset in the body where the value starts.
        offset: usize,
        /// Bytes the value needs.
        needed: u64,
        /// Bytes left in the enclosing message.
        available: usize,
    },
    /// The wire data is structurally invalid (bad varint, field number 0, bad group, ...).
    #[error("invalid protobuf data in message {message} at {path}, byte offset {offset}: {problem}")]
    Malformed {
        /// Protobuf message being decoded.
        message: &'static str,
        /// JSON-style path of the field being decoded.
        path: String,
        /// Absolute byte offset in the body.
        offset: usize,
        /// What was wrong.
        problem: String,
    },
    /// A known field arrived with the wrong wire type.
    #[error(
        "field {number} ({path}) of message {message} expects wire type {expected} but found \
         wire type {found} at byte offset {offset}"
    )]
    WrongWireType {
        /// Protobuf message being decoded.
        message: &'static str,
        /// JSON-style path of the field.
        path: String,
        /// Field number.
        number: u32,
        /// Expected wire type.
        expected: u8,
        /// Wire type found.
        found: u8,
        /// Absolute byte offset of the tag.
        offset: usize,
    },
    /// A decoded value cannot be represented (time out of range, bad IntOrString type, ...).
    #[error("invalid value at {path}: expected {expected}, found {found}")]
    InvalidValue {
        /// JSON-style path of the value.
        path: String,
        /// What a valid value looks like.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// The envelope has no kind in its typeMeta.
    #[error("protobuf envelope has no kind in typeMeta (apiVersion {api_version:?})")]
    MissingKind {
        /// The apiVersion found (possibly empty).
        api_version: String,
    },
    /// The (apiVersion, kind) has no descriptor.
    #[error(
        "unsupported protobuf object kind {kind:?} with apiVersion {api_version:?}; supported: \
         {supported}"
    )]
    UnsupportedKind {
        /// apiVersion from the envelope.
        api_version: String,
        /// kind from the envelope.
        kind: String,
        /// Comma-separated supported `apiVersion/kind` pairs.
        supported: String,
    },
    /// The envelope declares a content encoding (such as gzip) that is not supported.
    #[error("unsupported protobuf envelope contentEncoding {encoding:?}; expected none")]
    UnsupportedEncoding {
        /// The declared encoding.
        encoding: String,
    },
    /// A field the decoder has no description for: refused rather than silently dropped.
    #[error("field #{number} of {message} (at {path}) is not supported by drdrill's protobuf decoder; send the object as JSON instead")]
    UnsupportedField {
        /// The message type.
        message: &'static str,
        /// Where in the object.
        path: String,
        /// The protobuf field number.
        number: u64,
    },
}

impl ProtobufError {
    /// True when the body is well-formed but its kind or encoding is not supported (HTTP 415);
    /// false for malformed data (HTTP 400).
    pub fn is_unsupported(&self) -> bool {
        matches!(
            self,
            Self::UnsupportedKind { .. } | Self::UnsupportedEncoding { .. } | Self::UnsupportedField { .. }
        )
    }

    /// The HTTP status the server should answer with: 415 or 400.
    pub fn http_status(&self) -> u16 {
        if self.is_unsupported() { 415 } else { 400 }
    }
}

/// True when `content_type` is the Kubernetes protobuf media type (parameters and case ignored).
pub fn is_protobuf(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/vnd.kubernetes.protobuf")
}

/// The supported kinds, as `apiVersion/kind` strings (`*/DeleteOptions` for any group version).
pub fn supported_kinds() -> Vec<String> {
    KINDS.iter().map(|(av, kind, _)| format!("{}/{kind}", av.unwrap_or("*"))).collect()
}

/// Decodes a Kubernetes protobuf body (magic + `runtime.Unknown`) into the JSON object
/// kube-apiserver would have decoded, with `apiVersion` and `kind` set.
pub fn decode(body: &[u8]) -> Result<Value, ProtobufError> {
    if body.len() < MAGIC.len() || &body[..MAGIC.len()] != MAGIC {
        let head = &body[..body.len().min(MAGIC.len())];
        return Err(ProtobufError::BadMagic {
            found: head.escape_ascii().to_string(),
        });
    }
    let env = decode_envelope(Reader::new(body, MAGIC.len(), body.len()))?;
    if env.kind.is_empty() {
        return Err(ProtobufError::MissingKind {
            api_version: env.api_version,
        });
    }
    if !env.content_encoding.is_empty() {
        return Err(ProtobufError::UnsupportedEncoding {
            encoding: env.content_encoding,
        });
    }
    let desc = KINDS
        .iter()
        .find(|(av, kind, _)| *kind == env.kind && av.is_none_or(|av| av == env.api_version))
        .map(|(_, _, desc)| *desc)
        .ok_or_else(|| ProtobufError::UnsupportedKind {
            api_version: env.api_version.clone(),
            kind: env.kind.clone(),
            supported: supported_kinds().join(", "),
        })?;
    let mut partial = Partial::default();
    let (start, end) = env.raw;
    decode_message(Reader::new(body, start, end), desc, desc.name, &mut partial)?;
    let mut value = render(desc, &partial, desc.name)?;
    if let Value::Object(obj) = &mut value {
        obj.insert("apiVersion".into(), Value::String(env.api_version));
        obj.insert("kind".into(), Value::String(env.kind));
    }
    Ok(value)
}

/// The decoded `runtime.Unknown` envelope; `raw` is an absolute byte range of the body.
struct Envelope {
    api_version: String,
    kind: String,
    raw: (usize, usize),
    content_encoding: String,
}

fn decode_envelope(mut r: Reader<'_>) -> Result<Envelope, ProtobufError> {
    const MSG: &str = "runtime.Unknown";
    let mut env = Envelope {
        api_version: String::new(),
        kind: String::new(),
        raw: (r.end, r.end),
        content_encoding: String::new(),
    };
    let mut type_meta = Partial::default();
    while !r.at_end() {
        let (number, wire, tag_at) = r.tag(MSG, "Unknown")?;
        let name = match number {
            1 => "typeMeta",
            2 => "raw",
            3 => "contentEncoding",
            4 => "contentType",
            _ => {
                r.skip(wire, number, MSG, "Unknown", 0)?;
                continue;
            }
        };
        let path = format!("Unknown.{name}");
        expect_wire(wire, 2, number, MSG, &path, tag_at)?;
        let (start, end) = r.len_delimited(MSG, &path)?;
        match number {
            1 => decode_message(
                Reader::new(r.buf, start, end),
                &descriptors::RUNTIME_TYPE_META,
                &path,
                &mut type_meta,
            )?,
            2 => env.raw = (start, end),
            3 => env.content_encoding = lossy(&r.buf[start..end]),
            _ => {} // contentType is informational only
        }
    }
    let text = |n: u32| match type_meta.get(n) {
        Some(Slot::Value(Value::String(s))) => s.clone(),
        _ => String::new(),
    };
    env.api_version = text(1);
    env.kind = text(2);
    Ok(env)
}

/// A decoded field before JSON rendering (singular messages stay open so repeats merge).
enum Slot {
    Value(Value),
    Message(Partial),
    List(Vec<Value>),
    Map(Map<String, Value>),
}

/// The fields of a message seen so far, keyed by field number.
#[derive(Default)]
struct Partial {
    slots: Vec<(u32, Slot)>,
}

impl Partial {
    fn get(&self, number: u32) -> Option<&Slot> {
        self.slots.iter().find(|(n, _)| *n == number).map(|(_, s)| s)
    }

    /// The slot for `number`, created with `init` if missing.
    fn slot(&mut self, number: u32, init: impl FnOnce() -> Slot) -> &mut Slot {
        let idx = match self.slots.iter().position(|(n, _)| *n == number) {
            Some(idx) => idx,
            None => {
                self.slots.push((number, init()));
                self.slots.len() - 1
            }
        };
        &mut self.slots[idx].1
    }
}

/// A cursor over `buf[pos..end]`; offsets reported in errors are absolute in `buf`.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], pos: usize, end: usize) -> Self {
        Self { buf, pos, end }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    fn truncated(&self, message: &'static str, path: &str, offset: usize, needed: u64) -> ProtobufError {
        ProtobufError::Truncated {
            message,
            path: path.to_owned(),
            offset,
            needed,
            available: self.end.saturating_sub(offset),
        }
    }

    fn malformed(&self, message: &'static str, path: &str, offset: usize, problem: String) -> ProtobufError {
        ProtobufError::Malformed {
            message,
            path: path.to_owned(),
            offset,
            problem,
        }
    }

    fn varint(&mut self, message: &'static str, path: &str) -> Result<u64, ProtobufError> {
        let start = self.pos;
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&byte) = self.buf.get(self.pos).filter(|_| self.pos < self.end) else {
                return Err(self.truncated(message, path, start, i + 1));
            };
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(self.malformed(message, path, start, "varint longer than 10 bytes".into()))
    }

    /// Reads a tag: (field number, wire type, offset of the tag).
    fn tag(&mut self, message: &'static str, path: &str) -> Result<(u32, u8, usize), ProtobufError> {
        let at = self.pos;
        let key = self.varint(message, path)?;
        let wire = (key & 7) as u8;
        match u32::try_from(key >> 3) {
            Ok(number) if (1..=0x1fff_ffff).contains(&number) => Ok((number, wire, at)),
            _ => Err(self.malformed(message, path, at, format!("field number must be 1..=536870911, found {}", key >> 3))),
        }
    }

    /// Reads a length prefix and returns the absolute byte range of the payload.
    fn len_delimited(&mut self, message: &'static str, path: &str) -> Result<(usize, usize), ProtobufError> {
        let len = self.varint(message, path)?;
        let start = self.pos;
        let remaining = self.end - start;
        match usize::try_from(len) {
            Ok(n) if n <= remaining => {
                self.pos += n;
                Ok((start, start + n))
            }
            _ => Err(self.truncated(message, path, start, len)),
        }
    }

    fn fixed(&mut self, n: usize, message: &'static str, path: &str) -> Result<(), ProtobufError> {
        if self.end - self.pos < n {
            return Err(self.truncated(message, path, self.pos, n as u64));
        }
        self.pos += n;
        Ok(())
    }

    /// Skips one value of wire type `wire` (whose tag was already read), including groups.
    fn skip(&mut self, wire: u8, number: u32, message: &'static str, path: &str, depth: usize) -> Result<(), ProtobufError> {
        match wire {
            0 => self.varint(message, path).map(drop),
            1 => self.fixed(8, message, path),
            2 => self.len_delimited(message, path).map(drop),
            5 => self.fixed(4, message, path),
            3 => {
                if depth >= MAX_GROUP_DEPTH {
                    let at = self.pos;
                    return Err(self.malformed(message, path, at, format!("groups nested deeper than {MAX_GROUP_DEPTH}")));
                }
                loop {
                    if self.at_end() {
                        return Err(self.truncated(message, path, self.pos, 1));
                    }
                    let (inner, inner_wire, at) = self.tag(message, path)?;
                    if inner_wire == 4 {
                        if inner == number {
                            return Ok(());
                        }
                        return Err(self.malformed(message, path, at, format!("end-group for field {inner} inside group {number}")));
                    }
                    self.skip(inner_wire, inner, message, path, depth + 1)?;
                }
            }
            4 => {
                let at = self.pos;
                Err(self.malformed(message, path, at, format!("unexpected end-group for field {number}")))
            }
            other => {
                let at = self.pos;
                Err(self.malformed(message, path, at, format!("unknown wire type {other} for field {number}")))
            }
        }
    }
}

fn expect_wire(found: u8, expected: u8, number: u32, message: &'static str, path: &str, offset: usize) -> Result<(), ProtobufError> {
    if found == expected {
        return Ok(());
    }
    Err(ProtobufError::WrongWireType {
        message,
        path: path.to_owned(),
        number,
        expected,
        found,
        offset,
    })
}

/// Go converts bytes to string without validation; its JSON encoder then replaces invalid UTF-8.
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Decodes the fields of a message of type `desc` from `r` into `partial`.
fn decode_message(mut r: Reader<'_>, desc: &'static MessageDesc, path: &str, partial: &mut Partial) -> Result<(), ProtobufError> {
    while !r.at_end() {
        let (number, wire, tag_at) = r.tag(desc.name, path)?;
        match desc.field(number) {
            Some(field) => decode_field(&mut r, desc, field, wire, tag_at, path, partial)?,
            None => {
                // Check the field is well-formed first (400 beats 415 for garbage), then refuse
                // it: dropping data the client sent would lose it silently.
                r.skip(wire, number, desc.name, &format!("{path}.#{number}"), 0)?;
                return Err(ProtobufError::UnsupportedField {
                    message: desc.name,
                    path: path.to_string(),
                    number: u64::from(number),
                });
            }
        }
    }
    Ok(())
}

fn wire_type_of(kind: Kind) -> u8 {
    match kind {
        Kind::I32 | Kind::I64 | Kind::Bool => 0,
        Kind::Str | Kind::Bytes | Kind::Msg(_) | Kind::Time | Kind::Quantity => 2,
    }
}

fn decode_field(
    r: &mut Reader<'_>,
    desc: &'static MessageDesc,
    field: &'static FieldDesc,
    wire: u8,
    tag_at: usize,
    parent: &str,
    partial: &mut Partial,
) -> Result<(), ProtobufError> {
    let path = format!("{parent}.{}", field.json);
    let expected = if field.shape == Shape::Map { 2 } else { wire_type_of(field.kind) };
    expect_wire(wire, expected, field.number, desc.name, &path, tag_at)?;
    match field.shape {
        Shape::Single => {
            if let Kind::Msg(inner) = field.kind {
                let (start, end) = r.len_delimited(desc.name, &path)?;
                let slot = partial.slot(field.number, || Slot::Message(Partial::default()));
                if let Slot::Message(sub) = slot {
                    decode_message(Reader::new(r.buf, start, end), inner, &path, sub)?;
                }
            } else {
                let value = read_value(r, field.kind, desc.name, &path)?;
                *partial.slot(field.number, || Slot::Value(Value::Null)) = Slot::Value(value);
            }
        }
        Shape::Repeated => {
            let slot = partial.slot(field.number, || Slot::List(Vec::new()));
            if let Slot::List(items) = slot {
                let item_path = format!("{path}[{}]", items.len());
                items.push(read_value(r, field.kind, desc.name, &item_path)?);
            }
        }
        Shape::Map => {
            let (start, end) = r.len_delimited(desc.name, &path)?;
            let (key, value) = read_map_entry(Reader::new(r.buf, start, end), field.kind, &path)?;
            if let Slot::Map(map) = partial.slot(field.number, || Slot::Map(Map::new())) {
                map.insert(key, value);
            }
        }
    }
    Ok(())
}

/// Reads one value of `kind` (tag already consumed) and renders it to JSON.
fn read_value(r: &mut Reader<'_>, kind: Kind, message: &'static str, path: &str) -> Result<Value, ProtobufError> {
    Ok(match kind {
        Kind::I32 => Value::from(r.varint(message, path)? as i32),
        Kind::I64 => Value::from(r.varint(message, path)? as i64),
        Kind::Bool => Value::Bool(r.varint(message, path)? != 0),
        Kind::Str | Kind::Bytes | Kind::Msg(_) | Kind::Time | Kind::Quantity => {
            let (start, end) = r.len_delimited(message, path)?;
            let bytes = &r.buf[start..end];
            match kind {
                Kind::Str => Value::String(lossy(bytes)),
                Kind::Bytes => Value::String(base64(bytes)),
                Kind::Msg(inner) => {
                    let mut sub = Partial::default();
                    decode_message(Reader::new(r.buf, start, end), inner, path, &mut sub)?;
                    render(inner, &sub, path)?
                }
                Kind::Time => read_time(Reader::new(r.buf, start, end), path)?,
                _ => read_quantity(Reader::new(r.buf, start, end), path)?,
            }
        }
    })
}

/// `metav1.Time`: empty means the zero time (JSON null); nanos are dropped like the server does.
fn read_time(mut r: Reader<'_>, path: &str) -> Result<Value, ProtobufError> {
    const MSG: &str = "Time";
    if r.at_end() {
        return Ok(Value::Null);
    }
    let mut seconds = 0i64;
    while !r.at_end() {
        let (number, wire, at) = r.tag(MSG, path)?;
        match number {
            1 | 2 => {
                let field_path = format!("{path}.{}", if number == 1 { "seconds" } else { "nanos" });
                expect_wire(wire, 0, number, MSG, &field_path, at)?;
                let v = r.varint(MSG, &field_path)? as i64;
                if number == 1 {
                    seconds = v;
                }
            }
            _ => r.skip(wire, number, MSG, path, 0)?,
        }
    }
    // Go's RFC 3339 JSON encoding only covers years 0000..=9999.
    const MIN: i64 = -62_167_219_200; // 0000-01-01T00:00:00Z
    const MAX: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z
    match jiff::Timestamp::from_second(seconds) {
        Ok(ts) if (MIN..=MAX).contains(&seconds) => Ok(Value::String(ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())),
        _ => Err(ProtobufError::InvalidValue {
            path: path.to_owned(),
            expected: "a time between years 0000 and 9999",
            found: format!("{seconds} seconds since the Unix epoch"),
        }),
    }
}

/// `resource.Quantity` {1: string}; absent means the zero quantity "0". Not canonicalised.
fn read_quantity(mut r: Reader<'_>, path: &str) -> Result<Value, ProtobufError> {
    const MSG: &str = "Quantity";
    let mut text = None;
    while !r.at_end() {
        let (number, wire, at) = r.tag(MSG, path)?;
        if number == 1 {
            expect_wire(wire, 2, number, MSG, path, at)?;
            let (start, end) = r.len_delimited(MSG, path)?;
            text = Some(lossy(&r.buf[start..end]));
        } else {
            r.skip(wire, number, MSG, path, 0)?;
        }
    }
    match text {
        None => Ok(Value::String("0".into())),
        Some(s) if s.trim().is_empty() => Err(ProtobufError::InvalidValue {
            path: path.to_owned(),
            expected: "a quantity such as \"100m\" or \"1Gi\"",
            found: "an empty string".into(),
        }),
        Some(s) => Ok(Value::String(s)),
    }
}

/// A map entry {1: key string, 2: value}; missing parts take their zero values.
fn read_map_entry(mut r: Reader<'_>, kind: Kind, path: &str) -> Result<(String, Value), ProtobufError> {
    const MSG: &str = "map entry";
    let mut key = String::new();
    let mut value = None;
    while !r.at_end() {
        let (number, wire, at) = r.tag(MSG, path)?;
        match number {
            1 => {
                expect_wire(wire, 2, number, MSG, path, at)?;
                let (start, end) = r.len_delimited(MSG, path)?;
                key = lossy(&r.buf[start..end]);
            }
            2 => {
                let value_path = format!("{path}[{key:?}]");
                expect_wire(wire, wire_type_of(kind), number, MSG, &value_path, at)?;
                value = Some(read_value(&mut r, kind, MSG, &value_path)?);
            }
            _ => r.skip(wire, number, MSG, path, 0)?,
        }
    }
    Ok((key, value.unwrap_or_else(|| zero_value(kind))))
}

/// The JSON of a Go zero value of `kind` (non-message kinds).
fn zero_value(kind: Kind) -> Value {
    match kind {
        Kind::Str | Kind::Bytes => Value::String(String::new()),
        Kind::I32 | Kind::I64 => Value::from(0),
        Kind::Bool => Value::Bool(false),
        Kind::Quantity => Value::String("0".into()),
        Kind::Msg(_) | Kind::Time => Value::Null,
    }
}

fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_i64() == Some(0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// Renders a decoded message to JSON, applying each field's Go omission rule.
fn render(desc: &'static MessageDesc, partial: &Partial, path: &str) -> Result<Value, ProtobufError> {
    if desc.render == Render::IntOrString {
        return render_int_or_string(partial, path);
    }
    let mut out = Map::new();
    for field in desc.fields {
        let slot = partial.get(field.number);
        let value = match (field.shape, field.kind, slot) {
            (Shape::Single, Kind::Msg(inner), Some(Slot::Message(sub))) => Some(render(inner, sub, &format!("{path}.{}", field.json))?),
            (Shape::Single, Kind::Msg(inner), _) => match field.presence {
                Presence::Omit | Presence::Always => Some(render(inner, &Partial::default(), &format!("{path}.{}", field.json))?),
                Presence::Nullable => Some(Value::Null),
                Presence::Pointer => None,
            },
            (Shape::Single, kind, slot) => {
                let present = match slot {
                    Some(Slot::Value(v)) => Some(v.clone()),
                    _ => None,
                };
                match field.presence {
                    Presence::Omit => present.filter(|v| !is_zero(v)),
                    Presence::Always => Some(present.unwrap_or_else(|| zero_value(kind))),
                    Presence::Pointer => present,
                    Presence::Nullable => Some(present.unwrap_or(Value::Null)),
                }
            }
            (_, _, slot) => {
                let collection = match slot {
                    Some(Slot::List(items)) if !items.is_empty() => Some(Value::Array(items.clone())),
                    Some(Slot::Map(map)) if !map.is_empty() => Some(Value::Object(map.clone())),
                    _ => None,
                };
                match field.presence {
                    Presence::Omit | Presence::Pointer => collection,
                    Presence::Always | Presence::Nullable => Some(collection.unwrap_or(Value::Null)),
                }
            }
        };
        if let Some(value) = value {
            out.insert(field.json.to_owned(), value);
        }
    }
    Ok(Value::Object(out))
}

/// IntOrString: type 0 is a JSON number (intVal), type 1 a JSON string (strVal).
fn render_int_or_string(partial: &Partial, path: &str) -> Result<Value, ProtobufError> {
    let get = |n: u32| match partial.get(n) {
        Some(Slot::Value(v)) => v.clone(),
        _ => Value::Null,
    };
    match get(1).as_i64().unwrap_or(0) {
        0 => Ok(get(2).as_i64().map_or(Value::from(0), Value::from)),
        1 => Ok(Value::String(get(3).as_str().unwrap_or("").to_owned())),
        other => Err(ProtobufError::InvalidValue {
            path: path.to_owned(),
            expected: "IntOrString type 0 (int) or 1 (string)",
            found: format!("type {other}"),
        }),
    }
}

/// Standard base64 with padding, as Go's JSON encoder writes `[]byte`.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
