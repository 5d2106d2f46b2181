//! The listing and encoding rules of the in-memory backend, without HTTP.

use super::backend::{list_page, url_encode};

const KEYS: [&str; 7] = ["a/b/1", "a/b/2", "a/c", "a/d/e/f", "ab", "b/x", "c"];

/// Walks all pages the way a client does, feeding each next token back.
fn walk(prefix: &str, delimiter: Option<&str>, max: usize) -> (Vec<String>, Vec<String>, usize) {
    let (mut keys, mut prefixes, mut pages) = (Vec::new(), Vec::new(), 0);
    let mut token: Option<String> = None;
    loop {
        let (k, p, next) = list_page(KEYS.iter().copied(), prefix, delimiter, token.as_deref(), max);
        pages += 1;
        assert!(k.len() + p.len() <= max, "page over max-keys");
        keys.extend(k);
        prefixes.extend(p);
        match next {
            Some(t) => token = Some(t),
            None => return (keys, prefixes, pages),
        }
        assert!(pages < 100, "paging does not end");
    }
}

#[test]
fn recursive_listing_with_prefix() {
    let (keys, prefixes, pages) = walk("a/", None, 1000);
    assert_eq!(keys, vec!["a/b/1", "a/b/2", "a/c", "a/d/e/f"]);
    assert!(prefixes.is_empty());
    assert_eq!(pages, 1);
}

#[test]
fn delimiter_rolls_up_common_prefixes() {
    let (keys, prefixes, _) = walk("", Some("/"), 1000);
    assert_eq!(keys, vec!["ab", "c"]);
    assert_eq!(prefixes, vec!["a/", "b/"]);
    let (keys, prefixes, _) = walk("a/", Some("/"), 1000);
    assert_eq!(keys, vec!["a/c"]);
    assert_eq!(prefixes, vec!["a/b/", "a/d/"]);
}

#[test]
fn every_page_size_gives_the_same_listing() {
    for delimiter in [None, Some("/")] {
        for prefix in ["", "a/", "a"] {
            let whole = walk(prefix, delimiter, 1000);
            for max in 1..=4 {
                let paged = walk(prefix, delimiter, max);
                assert_eq!((&paged.0, &paged.1), (&whole.0, &whole.1), "{prefix:?} {delimiter:?} {max}");
                let entries = whole.0.len() + whole.1.len();
                assert_eq!(paged.2, entries.div_ceil(max).max(1), "pages for {max}");
            }
        }
    }
}

#[test]
fn exactly_full_page_is_not_truncated() {
    let (keys, _, next) = list_page(KEYS.iter().copied(), "a/", None, None, 4);
    assert_eq!(keys.len(), 4);
    assert_eq!(next, None, "no empty trailing page");
    let (_, _, next) = list_page(KEYS.iter().copied(), "a/", None, None, 3);
    assert_eq!(next.as_deref(), Some("a/c"));
}

#[test]
fn zero_max_keys_lists_nothing() {
    let (keys, prefixes, next) = list_page(KEYS.iter().copied(), "", None, None, 0);
    assert!(keys.is_empty() && prefixes.is_empty());
    assert_eq!(next, None, "no token to loop on");
}

#[test]
fn url_encoding_keeps_slashes_and_unreserved() {
    assert_eq!(url_encode("backups/b-1_x.~/f"), "backups/b-1_x.~/f");
    assert_eq!(url_encode("a b+c%é"), "a%20b%2Bc%25%C3%A9");
}
