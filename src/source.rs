//! Load stage: read the stack file into memory, refusing what is not a reasonable text file.
//! Only this module reads input files.

use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostic;

/// Stack files larger than this are refused before parsing (1 MiB is thousands of services).
pub const MAX_STACK_BYTES: u64 = 1024 * 1024;

/// A stack file's path (as the user wrote it) and text.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as given on the command line, used in diagnostics.
    pub path: PathBuf,
    /// The whole file, UTF-8.
    pub text: String,
}

impl Source {
    /// An in-memory source, for tests, benches and the library API.
    pub fn from_text(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        Source { path: path.into(), text: text.into() }
    }

    /// Read `path`. Problems with the file itself (missing, too big, not UTF-8, empty) are
    /// diagnostics: they are the user's to fix.
    pub fn load(path: &Path) -> Result<Source, Diagnostic> {
        let meta = std::fs::metadata(path).map_err(|e| {
            Diagnostic::file_error(format!("cannot read `{}`: {e}", path.display()))
                .hint("give the path of a stack file, for example `examples/dkp.yaml`")
        })?;
        if meta.is_dir() {
            return Err(Diagnostic::file_error(format!("`{}` is a directory, expected a stack file", path.display())));
        }
        if meta.len() > MAX_STACK_BYTES {
            return Err(Diagnostic::file_error(format!(
                "`{}` is {} bytes, more than the {MAX_STACK_BYTES} bytes a stack file may have",
                path.display(),
                meta.len()
            ))
            .hint("a stack file describes services, not data: check that this is the right file"));
        }
        let bytes = std::fs::read(path)
            .map_err(|e| Diagnostic::file_error(format!("cannot read `{}`: {e}", path.display())))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            Diagnostic::file_error(format!(
                "`{}` is not UTF-8 text (invalid byte at offset {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ))
            .hint("save the stack file as UTF-8")
        })?;
        Ok(Source { path: path.to_path_buf(), text })
    }
}
