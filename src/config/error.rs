//! Configuration errors that point at a place: file, line and column.

use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong with one file, located as precisely as we can.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// 1-based line and column; `None` when the problem is the file as a whole.
    pub at: Option<(usize, usize)>,
    pub message: String,
}

impl ConfigError {
    pub fn whole_file(file: &Path, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            at: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.at {
            Some((line, col)) => write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                line,
                col,
                self.message
            ),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every error found in a load: validation reports all it can find, not just the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// Turns byte offsets from toml spans into 1-based line:column, for one file's text.
pub struct SpanLocator<'a> {
    file: &'a Path,
    line_starts: Vec<usize>,
    text: &'a str,
}

impl<'a> SpanLocator<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            file,
            line_starts,
            text,
        }
    }

    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let col = self.text[start..offset.min(self.text.len())]
            .chars()
            .count()
            + 1;
        (line, col)
    }

    pub fn error(&self, span: std::ops::Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            at: Some(self.line_col(span.start)),
            message: message.into(),
        }
    }

    pub fn file(&self) -> &Path {
        self.file
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines_and_columns() {
        let text = "a = 1\nbb = 2\n\nccc";
        let l = SpanLocator::new(Path::new("f.toml"), text);
        assert_eq!(l.line_col(0), (1, 1));
        assert_eq!(l.line_col(4), (1, 5));
        assert_eq!(l.line_col(6), (2, 1));
        assert_eq!(l.line_col(8), (2, 3));
        assert_eq!(l.line_col(13), (3, 1));
        assert_eq!(l.line_col(14), (4, 1));
        assert_eq!(
            l.error(6..7, "bad").to_string(),
            "f.toml:2:1: bad".to_string()
        );
    }
}
