//! Printed results: tab-aligned tables in the style of kubectl and tanzu.

use std::io::Write;

/// Formats rows into columns separated by at least three spaces (like Go's tabwriter, which
/// kubectl and the tanzu CLI use).
pub fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    columns_padded(header, rows, 3)
}

/// Like [`columns`] with a chosen gap (the tanzu CLI leaves two spaces).
pub fn columns_padded(header: &[&str], rows: &[Vec<String>], padding: usize) -> String {
    let mut tw = tabwriter::TabWriter::new(Vec::new()).minwidth(0).padding(padding);
    let line = |cells: Vec<String>| cells.join("\t");
    // Writing into a Vec cannot fail.
    let _ = writeln!(tw, "{}", line(header.iter().map(|h| h.to_string()).collect()));
    for row in rows {
        let _ = writeln!(tw, "{}", line(row.clone()));
    }
    let bytes = tw.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Compares printed output with `harness/golden/<name>`; `UPDATE_GOLDEN=1` rewrites the file.
pub fn assert_golden(name: &str, actual: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/golden").join(name);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("golden folder");
        }
        std::fs::write(&path, actual).expect("golden file written");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {} unreadable ({e}); run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "output differs from {} (UPDATE_GOLDEN=1 rewrites it after review)",
        path.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_like_tabwriter() {
        let out = columns(
            &["NAME", "STATUS"],
            &[
                vec!["tkg-vc-antrea".into(), "running".into()],
                vec!["a".into(), "createdStalled".into()],
            ],
        );
        assert_eq!(
            out,
            "NAME            STATUS\ntkg-vc-antrea   running\na               createdStalled\n"
        );
    }
}
