//! String `format` checks for the formats kube-apiserver validates in CRD schemas.
//!
//! The JSON-Schema crate runs these through custom format names (`k8s:<format>`), because the
//! Kubernetes meaning of e.g. `duration` or `uri` differs from JSON Schema's built-in one.

use std::net::IpAddr;

/// Prefix under which the formats are registered with the JSON-Schema validator.
pub(super) const PREFIX: &str = "k8s:";

/// A format check: `true` when the string is valid for the format.
pub(super) type Check = fn(&str) -> bool;

/// The check for a schema `format` (as written in the schema, e.g. `date-time`), if the
/// apiserver validates it. Formats it ignores (and the few we do not check) give `None`.
pub(super) fn check_for(format: &str) -> Option<Check> {
    // The apiserver normalises format names by dropping dashes ("date-time" == "datetime").
    let normalized: String = format.chars().filter(|c| *c != '-').collect();
    let check: Check = match normalized.as_str() {
        "datetime" => is_date_time,
        "date" => is_date,
        "duration" => is_duration,
        "byte" => is_base64,
        "uuid" => |s| is_uuid(s, None),
        "uuid3" => |s| is_uuid(s, Some(b'3')),
        "uuid4" => |s| is_uuid(s, Some(b'4')),
        "uuid5" => |s| is_uuid(s, Some(b'5')),
        "ipv4" => |s| s.parse::<IpAddr>().is_ok() && s.contains('.'),
        "ipv6" => |s| s.parse::<IpAddr>().is_ok() && s.contains(':'),
        "cidr" => is_cidr,
        "mac" => is_mac,
        "hostname" => is_hostname,
        "email" => is_email,
        "uri" => is_uri,
        "hexcolor" => is_hex_color,
        "bsonobjectid" => |s| s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()),
        "password" => |_| true,
        "k8sshortname" => is_dns1123_label,
        "k8slongname" => is_dns1123_subdomain,
        _ => return None,
    };
    Some(check)
}

fn digits(s: &str, n: usize) -> Option<u32> {
    if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn is_date(s: &str) -> bool {
    let mut parts = s.split('-');
    let (Some(y), Some(m), Some(d), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Some(year), Some(month), Some(day)) = (digits(y, 4), digits(m, 2), digits(d, 2)) else {
        return false;
    };
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let max_day = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=max_day).contains(&day)
}

/// RFC 3339 date-time, with the leniencies of the apiserver's parser (lower-case `t`/`z`,
/// a space separator, a missing zone, a zone without colon).
fn is_date_time(s: &str) -> bool {
    if s.len() < 19 || !s.is_char_boundary(10) || !s.is_char_boundary(11) {
        return false;
    }
    let (date, rest) = s.split_at(10);
    if !is_date(date) || !matches!(rest.as_bytes().first(), Some(b'T' | b't' | b' ')) {
        return false;
    }
    let rest = &rest[1..];
    let Some(clock) = rest.get(..8) else {
        return false;
    };
    let mut hms = clock.split(':');
    let (Some(h), Some(m), Some(sec), None) = (hms.next(), hms.next(), hms.next(), hms.next()) else {
        return false;
    };
    match (digits(h, 2), digits(m, 2), digits(sec, 2)) {
        (Some(h), Some(m), Some(sec)) if h < 24 && m < 60 && sec < 61 => {}
        _ => return false,
    }
    let mut tail = &rest[8..];
    if let Some(frac) = tail.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        tail = &frac[n..];
    }
    match tail {
        "" | "Z" | "z" => true,
        zone => {
            let Some(offset) = zone.strip_prefix(['+', '-']).filter(|o| o.is_ascii()) else {
                return false;
            };
            let (hh, mm) = match offset.len() {
                5 if offset.as_bytes()[2] == b':' => (&offset[..2], &offset[3..]),
                4 => (&offset[..2], &offset[2..]),
                _ => return false,
            };
            matches!((digits(hh, 2), digits(mm, 2)), (Some(h), Some(m)) if h < 24 && m < 60)
        }
    }
}

/// A Go duration (`1h30m`, `-1.5s`, `0`) or a number followed by a unit name (`22 ns`, `3 days`).
fn is_duration(s: &str) -> bool {
    is_go_duration(s) || is_unit_duration(s)
}

fn is_go_duration(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    if s == "0" {
        return true;
    }
    let mut rest = s;
    if rest.is_empty() {
        return false;
    }
    while !rest.is_empty() {
        let int = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut used = int;
        let mut frac = 0;
        if rest[used..].starts_with('.') {
            frac = rest[used + 1..].bytes().take_while(u8::is_ascii_digit).count();
            used += 1 + frac;
        }
        if int + frac == 0 {
            return false;
        }
        rest = &rest[used..];
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(rest.len(), |(i, _)| i);
        if !matches!(&rest[..unit_len], "ns" | "us" | "µs" | "μs" | "ms" | "s" | "m" | "h") {
            return false;
        }
        rest = &rest[unit_len..];
    }
    true
}

fn is_unit_duration(s: &str) -> bool {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return false;
    }
    let unit = s[n..].trim_start();
    matches!(
        unit,
        "ns" | "nanosecond"
            | "nanoseconds"
            | "us"
            | "µs"
            | "microsecond"
            | "microseconds"
            | "ms"
            | "millisecond"
            | "milliseconds"
            | "s"
            | "second"
            | "seconds"
            | "m"
            | "minute"
            | "minutes"
            | "h"
            | "hour"
            | "hours"
            | "d"
            | "day"
            | "days"
            | "w"
            | "week"
            | "weeks"
    )
}

/// Standard base64 with padding, as Go's `base64.StdEncoding` decodes it.
fn is_base64(s: &str) -> bool {
    if !s.len().is_multiple_of(4) {
        return false;
    }
    let body = s.trim_end_matches('=');
    s.len() - body.len() <= 2 && body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fn is_uuid(s: &str, version: Option<u8>) -> bool {
    let groups: Vec<&str> = if s.contains('-') {
        s.split('-').collect()
    } else if s.len() == 32 && s.is_ascii() {
        vec![&s[..8], &s[8..12], &s[12..16], &s[16..20], &s[20..]]
    } else {
        return false;
    };
    let lens = [8, 4, 4, 4, 12];
    if groups.len() != 5
        || groups
            .iter()
            .zip(lens)
            .any(|(g, n)| g.len() != n || !g.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return false;
    }
    match version {
        None => true,
        Some(v) => {
            let variant_ok = v == b'3' || matches!(groups[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b' | b'A' | b'B');
            groups[2].as_bytes()[0] == v && variant_ok
        }
    }
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    !bits.is_empty() && bits.bytes().all(|b| b.is_ascii_digit()) && bits.parse::<u32>().is_ok_and(|b| b <= max)
}

fn is_mac(s: &str) -> bool {
    let hex = |g: &str, n: usize| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit());
    let octets_ok = |n: usize| matches!(n, 6 | 8 | 20);
    for sep in [':', '-'] {
        if s.contains(sep) {
            let groups: Vec<&str> = s.split(sep).collect();
            return octets_ok(groups.len()) && groups.iter().all(|g| hex(g, 2));
        }
    }
    let groups: Vec<&str> = s.split('.').collect();
    octets_ok(groups.len() * 2) && groups.iter().all(|g| hex(g, 4))
}

fn is_hostname(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 255
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn is_email(s: &str) -> bool {
    let addr = match (s.find('<'), s.rfind('>')) {
        (Some(open), Some(close)) if open < close && close == s.len() - 1 => &s[open + 1..close],
        _ => s,
    };
    match addr.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !addr.contains(char::is_whitespace)
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        None => false,
    }
}

/// An absolute URI or an absolute path, as Go's `url.ParseRequestURI` accepts them.
fn is_uri(s: &str) -> bool {
    if s.contains(char::is_whitespace) || s.is_empty() {
        return false;
    }
    if s.starts_with('/') {
        return true;
    }
    match s.split_once(':') {
        Some((scheme, _)) => {
            let mut chars = scheme.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

fn is_hex_color(s: &str) -> bool {
    let hex = s.strip_prefix('#').unwrap_or(s);
    matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(format: &str, value: &str) -> bool {
        check_for(format).expect("format is checked")(value)
    }

    #[test]
    fn date_time_accepts_rfc3339_and_rejects_garbage() {
        assert!(ok("date-time", "2024-02-29T10:11:12Z"));
        assert!(ok("date-time", "2024-02-29T10:11:12.123456+02:00"));
        assert!(ok("datetime", "2024-02-29 10:11:12"));
        assert!(!ok("date-time", "2023-02-29T10:11:12Z"));
        assert!(!ok("date-time", "yesterday"));
        assert!(!ok("date-time", "2024-01-01T25:00:00Z"));
        assert!(!ok("date-time", "2024-01-01T10:00:00+2"));
    }

    #[test]
    fn durations_follow_go_syntax() {
        for good in ["1h30m", "-1.5s", "0", "300ms", "22 ns", "3 days", "720h0m0s"] {
            assert!(ok("duration", good), "{good}");
        }
        for bad in ["", "1x", "h", ".h", "abc", "1h-"] {
            assert!(!ok("duration", bad), "{bad}");
        }
    }

    #[test]
    fn misc_formats() {
        assert!(ok("byte", "aGVsbG8="));
        assert!(!ok("byte", "aGVsbG8"));
        assert!(ok("uuid", "123e4567-e89b-12d3-a456-426614174000"));
        assert!(ok("uuid4", "123e4567-e89b-42d3-a456-426614174000"));
        assert!(!ok("uuid4", "123e4567-e89b-12d3-a456-426614174000"));
        assert!(ok("ipv4", "10.0.0.1") && !ok("ipv4", "::1"));
        assert!(ok("ipv6", "::1") && !ok("ipv6", "10.0.0.1"));
        assert!(ok("cidr", "10.0.0.0/8") && !ok("cidr", "10.0.0.0/33"));
        assert!(ok("mac", "00:1a:2b:3c:4d:5e") && !ok("mac", "00:1a:2b"));
        assert!(ok("hostname", "api.example.com") && !ok("hostname", "-bad-.com"));
        assert!(ok("email", "a@b.io") && !ok("email", "nobody"));
        assert!(ok("uri", "https://x/y") && ok("uri", "/abs") && !ok("uri", "rel/path"));
        assert!(ok("k8s-short-name", "abc-1") && !ok("k8s-short-name", "Abc"));
        assert!(check_for("int32").is_none() && check_for("isbn").is_none());
    }
}
