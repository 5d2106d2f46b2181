//! Comparing a printed table (kubectl, velero, tanzu, the drift report) with the table a feature
//! expects: column by column, by header name, so columns the feature leaves out (AGE, CREATED,
//! timestamps) are ignored; a cell ending in `*` matches any value with that prefix (generated
//! name suffixes), `<any>` matches anything. A mismatch is reported as a readable diff.

/// A table read from a command's output: the header and the rows, split at the header's column
/// starts (cells may contain single spaces, e.g. `2022-12-07 17:10:42 +0000 UTC`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintedTable {
    /// Column names.
    pub header: Vec<String>,
    /// Cells per row.
    pub rows: Vec<Vec<String>>,
}

/// Splits a header line into (name, start column) pairs: names are separated by two or more
/// spaces (tabwriter) — a single space belongs to the name (`STORAGE LOCATION`, `LAST VALIDATED`).
fn header_columns(line: &str) -> Vec<(String, usize)> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == ' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !(chars[i] == ' ' && (i + 1 >= chars.len() || chars[i + 1] == ' ')) {
            i += 1;
        }
        out.push((chars[start..i].iter().collect::<String>().trim().to_string(), start));
    }
    out
}

/// Reads the first table in `output`: the first non-empty line is the header, rows follow until
/// an empty line.
pub fn parse_table(output: &str) -> Option<PrintedTable> {
    let mut lines = output.lines().skip_while(|l| l.trim().is_empty());
    let header_line = lines.next()?;
    let columns = header_columns(header_line);
    let mut rows = Vec::new();
    for line in lines {
        if line.trim().is_empty() {
            break;
        }
        let chars: Vec<char> = line.chars().collect();
        let cells = columns
            .iter()
            .enumerate()
            .map(|(i, (_, start))| {
                let end = columns.get(i + 1).map_or(chars.len(), |(_, s)| *s).min(chars.len());
                let start = (*start).min(chars.len());
                chars[start..end].iter().collect::<String>().trim().to_string()
            })
            .collect();
        rows.push(cells);
    }
    Some(PrintedTable {
        header: columns.into_iter().map(|(n, _)| n).collect(),
        rows,
    })
}

fn cell_matches(expected: &str, actual: &str) -> bool {
    if expected == "<any>" {
        return true;
    }
    match expected.strip_suffix('*') {
        Some(prefix) => actual.starts_with(prefix),
        None => expected == actual,
    }
}

/// Compares `output` with the expected header + rows; `Err` holds a diff naming every column
/// and row that differs, with both tables printed.
pub fn compare(output: &str, expected: &[Vec<String>]) -> Result<(), String> {
    let Some((want_header, want_rows)) = expected.split_first() else {
        return Err("the feature's table is empty".into());
    };
    let table = parse_table(output).ok_or_else(|| format!("the command printed no table:\n{output}"))?;
    let mut problems = Vec::new();
    let mut indexes = Vec::new();
    for name in want_header {
        match table.header.iter().position(|h| h == name) {
            Some(i) => indexes.push(i),
            None => problems.push(format!("no column {name:?} (columns: {})", table.header.join(", "))),
        }
    }
    if problems.is_empty() {
        if want_rows.len() != table.rows.len() {
            problems.push(format!("expected {} row(s), got {}", want_rows.len(), table.rows.len()));
        }
        for (r, (want, got)) in want_rows.iter().zip(&table.rows).enumerate() {
            for ((name, i), cell) in want_header.iter().zip(&indexes).zip(want) {
                let actual = got.get(*i).map(String::as_str).unwrap_or("");
                if !cell_matches(cell, actual) {
                    problems.push(format!("row {}, column {name}: expected {cell:?}, got {actual:?}", r + 1));
                }
            }
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let expected_text: String = expected.iter().map(|r| format!("  | {} |\n", r.join(" | "))).collect();
    Err(format!(
        "{}\n--- expected (only these columns are compared)\n{expected_text}--- got\n{output}",
        problems.join("\n")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(t: &[&[&str]]) -> Vec<Vec<String>> {
        t.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
    }

    const BSL: &str = "NAME      PROVIDER   BUCKET/PREFIX   PHASE       LAST VALIDATED                  ACCESS MODE   DEFAULT\n\
                       default   aws        mgmt            Available   2022-11-11 05:55:55 +0000 UTC   ReadWrite     true\n";

    #[test]
    fn columns_with_spaces_in_names_and_values_are_read_by_position() {
        let t = parse_table(BSL).expect("table");
        assert_eq!(
            t.header,
            [
                "NAME",
                "PROVIDER",
                "BUCKET/PREFIX",
                "PHASE",
                "LAST VALIDATED",
                "ACCESS MODE",
                "DEFAULT"
            ]
        );
        assert_eq!(t.rows[0][4], "2022-11-11 05:55:55 +0000 UTC");
    }

    #[test]
    fn only_named_columns_are_compared_and_stars_match_suffixes() {
        let want = rows(&[&["NAME", "PHASE", "DEFAULT"], &["def*", "Available", "true"]]);
        assert_eq!(compare(BSL, &want), Ok(()));
        let wrong = rows(&[&["NAME", "PHASE"], &["default", "Unavailable"]]);
        let err = compare(BSL, &wrong).expect_err("differs");
        assert!(
            err.starts_with("row 1, column PHASE: expected \"Unavailable\", got \"Available\""),
            "{err}"
        );
        let missing = rows(&[&["NAME", "AGE"], &["default", "1m"]]);
        assert!(compare(BSL, &missing).expect_err("no AGE").contains("no column \"AGE\""));
        let count = rows(&[&["NAME"], &["default"], &["other"]]);
        assert!(compare(BSL, &count).expect_err("rows").contains("expected 2 row(s), got 1"));
    }
}
