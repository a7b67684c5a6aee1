//! Reading a configuration file's text and turning TOML/serde errors into located,
//! plain-language ones: a file that is not UTF-8 is reported at its first bad byte, and
//! `invalid type: string "8080", expected i64` becomes `port must be a number (got the
//! string "8080")`. Shared by the server file and the zone files.

use std::path::Path;

use super::error::{ConfigError, SpanLocator};

/// The file's text; an unreadable file or one that is not UTF-8 is a located error.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ConfigError::whole_file(path, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| not_utf8(path, e.as_bytes(), e.utf8_error()))
}

fn not_utf8(path: &Path, bytes: &[u8], e: std::str::Utf8Error) -> ConfigError {
    let good = e.valid_up_to();
    // Everything before `good` is valid UTF-8, so lines and columns count characters.
    let before = std::str::from_utf8(&bytes[..good]).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    let byte = bytes[good];
    let hint = if (0xa0..=0xff).contains(&byte) {
        " (it looks like Latin-1)"
    } else {
        ""
    };
    ConfigError {
        file: path.to_path_buf(),
        at: Some((line, col)),
        message: format!(
            "byte 0x{byte:02X} is not valid UTF-8{hint}: the file must be saved as UTF-8"
        ),
    }
}

/// A TOML syntax or shape error, at its span, in words an operator uses.
pub fn toml_error(loc: &SpanLocator<'_>, text: &str, e: &toml::de::Error) -> ConfigError {
    let raw = e.message().trim();
    match e.span() {
        Some(span) => {
            let key = key_before(text, span.start);
            loc.error(span, plain(raw, key.as_deref()))
        }
        None => ConfigError::whole_file(loc.file(), plain(raw, None)),
    }
}

/// The key whose value starts at `offset`: the last `key =` before it on its line.
fn key_before(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let before = &text[line_start..offset];
    let (head, _) = before.rsplit_once('=')?;
    let key = head
        .rsplit(['{', ','])
        .next()
        .unwrap_or(head)
        .trim()
        .trim_matches(['"', '\''])
        .rsplit('.')
        .next()?
        .trim()
        .trim_matches(['"', '\''])
        .to_string();
    (!key.is_empty()).then_some(key)
}

/// Rewrites serde's messages; anything not recognised is kept as it is.
fn plain(msg: &str, key: Option<&str>) -> String {
    let what = key.map_or_else(|| "the value".to_string(), |k| format!("`{k}`"));
    if let Some(rest) = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "))
    {
        if let Some((got, expected)) = rest.split_once(", expected ") {
            return format!(
                "{what} must be {} (got {})",
                expected_words(expected),
                got_words(got)
            );
        }
    }
    if let Some(name) = msg.strip_prefix("data did not match any variant of untagged enum ") {
        let shape = match name.trim() {
            "StatusSpec" => "a status like 200 or a range like \"200-299\"",
            "QuorumSpec" => "\"majority\", \"any\", \"all\" or a number of regions",
            "OneOrMany" => "a string or a list of strings",
            "VersionSpec" => "true, false or a string",
            _ => "one of the forms this key takes",
        };
        return format!("{what} must be {shape}");
    }
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        return format!(
            "unknown key {}",
            rest.replace(", expected", "; the keys here are")
        );
    }
    if let Some(field) = msg.strip_prefix("missing field ") {
        return format!("{field} is required here");
    }
    if msg == "invalid socket address syntax" {
        return format!(
            "{what} must be an address and port, like \"127.0.0.1:53\" or \"[::1]:53\""
        );
    }
    msg.to_string()
}

fn expected_words(expected: &str) -> String {
    let e = expected.trim();
    match e {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" | "isize"
        | "an integer" => "a number".into(),
        "f32" | "f64" => "a number (like 1.5)".into(),
        "a boolean" | "bool" => "true or false".into(),
        "a string" | "a borrowed string" => "a string (in quotes)".into(),
        "a sequence" => "a list".into(),
        "a map" => "a table".into(),
        _ if e.starts_with("struct ") => "a table".into(),
        _ if e.contains("socket address") => "an address and port, like \"127.0.0.1:53\"".into(),
        _ if e.contains("path") => "a path (a string in quotes)".into(),
        _ => e.to_string(),
    }
}

fn got_words(got: &str) -> String {
    let g = got.trim();
    let unquote = |s: &str| s.trim_matches('`').to_string();
    if let Some(s) = g.strip_prefix("string ") {
        return format!("the string {s}");
    }
    if let Some(n) = g
        .strip_prefix("integer ")
        .or_else(|| g.strip_prefix("floating point "))
    {
        return format!("the number {}", unquote(n));
    }
    if let Some(b) = g.strip_prefix("boolean ") {
        return unquote(b);
    }
    match g {
        "sequence" => "a list".into(),
        "map" => "a table".into(),
        _ => g.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct T {
        port: Option<i64>,
        name: Option<String>,
        on: Option<bool>,
        list: Option<Vec<String>>,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        need: i64,
    }

    fn err(text: &str) -> String {
        let loc = SpanLocator::new(Path::new("f.toml"), text);
        let e = toml::from_str::<T>(text).unwrap_err();
        toml_error(&loc, text, &e).to_string()
    }

    #[test]
    fn serde_messages_become_plain_and_located() {
        assert_eq!(
            err("port = \"8080\"\n"),
            "f.toml:1:8: `port` must be a number (got the string \"8080\")"
        );
        assert_eq!(
            err("\nname = 5\n"),
            "f.toml:2:8: `name` must be a string (in quotes) (got the number 5)"
        );
        assert_eq!(
            err("on = \"yes\"\n"),
            "f.toml:1:6: `on` must be true or false (got the string \"yes\")"
        );
        assert_eq!(
            err("list = \"a\"\n"),
            "f.toml:1:8: `list` must be a list (got the string \"a\")"
        );
        assert_eq!(
            err("inner = { need = \"x\" }\n"),
            "f.toml:1:18: `need` must be a number (got the string \"x\")"
        );
        let unknown = err("inner = { need = 1, nede = 2 }\n");
        assert!(
            unknown.starts_with("f.toml:1:21: unknown key `nede`; the keys here are"),
            "{unknown}"
        );
        let missing = err("[inner]\n");
        assert!(
            missing.starts_with("f.toml:1:1: `need` is required here"),
            "{missing}"
        );
    }

    #[test]
    fn a_latin1_byte_is_reported_at_its_line_and_column() {
        let dir = std::env::temp_dir().join(format!("sy-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("latin1.toml");
        // "# café" in Latin-1 on line 3: é is the single byte 0xE9.
        std::fs::write(&f, b"[zone]\norigin = \"t.test.\"\n# caf\xe9 au lait\n").unwrap();
        let e = read(&f).unwrap_err();
        assert_eq!(e.at, Some((3, 6)), "{e}");
        assert_eq!(
            e.message,
            "byte 0xE9 is not valid UTF-8 (it looks like Latin-1): the file must be saved as UTF-8"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
