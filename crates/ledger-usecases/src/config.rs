//! The controller's details (name, DPO, supervisory authority,
//! organisational measures), read from a file: TOML when its name ends in
//! `.toml`, JSON otherwise. The fields are those of
//! [`ledger_compliance::ropa::RopaConfig`]; docs/API.md documents them and
//! `controller.demo.toml` beside this crate holds the demo company's.

use std::path::{Path, PathBuf};

use ledger_compliance::ropa::RopaConfig;

/// The demo company's controller file (the values the demo uses).
pub const DEMO_CONTROLLER_TOML: &str = include_str!("../controller.demo.toml");

/// Why a controller file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read the controller file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML of the documented shape.
    #[error("the controller file {path} is not valid: {message}")]
    Toml {
        /// The file.
        path: PathBuf,
        /// The parser's message (names fields and positions).
        message: String,
    },
    /// The file is not valid JSON of the documented shape.
    #[error("the controller file {path} is not valid JSON of the documented shape (line {line}, column {column})")]
    Json {
        /// The file.
        path: PathBuf,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
    },
}

/// Reads the controller file at `path`.
pub fn load_controller(path: &Path) -> Result<RopaConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    if path.extension().is_some_and(|e| e == "toml") {
        parse_toml(&text).map_err(|message| ConfigError::Toml {
            path: path.to_owned(),
            message,
        })
    } else {
        serde_json::from_str(&text).map_err(|e| ConfigError::Json {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
        })
    }
}

/// Parses a controller file's TOML text; `Err` is the parser's message.
pub fn parse_toml(text: &str) -> Result<RopaConfig, String> {
    toml::from_str(text).map_err(|e| e.message().to_owned())
}

/// The demo company's details.
pub fn demo_controller() -> RopaConfig {
    // The file is part of this crate and a test parses it.
    #[allow(clippy::expect_used)]
    parse_toml(DEMO_CONTROLLER_TOML).expect("controller.demo.toml parses")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_file_holds_the_demo_values() {
        assert_eq!(
            parse_toml(DEMO_CONTROLLER_TOML).unwrap(),
            RopaConfig::default()
        );
    }

    #[test]
    fn json_and_toml_files_load_and_a_bad_one_is_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("c.json");
        let mut config = demo_controller();
        config.controller.name = "Other B.V.".into();
        std::fs::write(&json, serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(load_controller(&json).unwrap(), config);
        let toml = dir.path().join("c.toml");
        std::fs::write(&toml, DEMO_CONTROLLER_TOML).unwrap();
        assert_eq!(load_controller(&toml).unwrap(), RopaConfig::default());
        std::fs::write(&toml, "supervisory_authority = 3").unwrap();
        assert!(matches!(
            load_controller(&toml),
            Err(ConfigError::Toml { .. })
        ));
        std::fs::write(&json, "{").unwrap();
        assert!(matches!(
            load_controller(&json),
            Err(ConfigError::Json { .. })
        ));
        let missing = dir.path().join("none.toml");
        assert!(matches!(
            load_controller(&missing),
            Err(ConfigError::Read { .. })
        ));
    }
}
