//! The model folder's file format, in one place: which files a model folder holds, and reading
//! and writing the authenticity calibration kept beside the model.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::domain::calibration::Calibration;

/// The ONNX graph: one pass feeds every head.
pub const MODEL: &str = "model.onnx";
/// The Hugging Face tokenizer the encoder was trained with.
pub const TOKENIZER: &str = "tokenizer.json";
/// The heads, their labels, kinds and thresholds ([`super::ModelSpec`]).
pub const LABELS: &str = "labels.json";
/// The fitted genuineness calibration (written by `cxpulse eval-authenticity
/// --write-calibration`); optional.
pub const CALIBRATION: &str = "authenticity.json";

/// The files a model folder must hold.
pub const REQUIRED: [&str; 3] = [MODEL, TOKENIZER, LABELS];

#[derive(Debug, thiserror::Error)]
pub enum CalibrationError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid calibration file: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// `authenticity.json`: the calibration with what it was fitted on, how well it did, and the
/// command that reproduces it, so the file explains itself to whoever opens the model folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CalibrationFile {
    pub calibration: Calibration,
    #[serde(default)]
    pub fitted_on: String,
    #[serde(default)]
    pub reproduce: String,
    /// Metrics of the fit by evaluation set (as `cxpulse eval-authenticity` reports them).
    #[serde(flatten)]
    pub metrics: BTreeMap<String, serde_json::Value>,
}

/// The calibration shipped with the model in `dir`, or the default when it has none.
pub fn read_calibration(dir: &Path) -> Result<Calibration, CalibrationError> {
    let path = dir.join(CALIBRATION);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Calibration::default()),
        Err(source) => {
            return Err(CalibrationError::Read {
                path: path.display().to_string(),
                source,
            })
        }
    };
    serde_json::from_str::<CalibrationFile>(&text)
        .map(|f| f.calibration)
        .map_err(|source| CalibrationError::Parse {
            path: path.display().to_string(),
            source,
        })
}

/// Writes `file` as the model folder's calibration; returns the path written.
pub fn write_calibration(
    dir: &Path,
    file: &CalibrationFile,
) -> Result<std::path::PathBuf, CalibrationError> {
    let path = dir.join(CALIBRATION);
    let text = serde_json::to_string_pretty(file).map_err(|source| CalibrationError::Parse {
        path: path.display().to_string(),
        source,
    })? + "\n";
    std::fs::write(&path, text).map_err(|source| CalibrationError::Write {
        path: path.display().to_string(),
        source,
    })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_the_default_and_a_bad_one_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            read_calibration(dir.path()).unwrap(),
            Calibration::default()
        );
        std::fs::write(dir.path().join(CALIBRATION), "{\"calibration\": 3}").unwrap();
        let e = read_calibration(dir.path()).unwrap_err().to_string();
        assert!(e.contains("authenticity.json"), "{e}");
    }

    #[test]
    fn a_written_calibration_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let c = Calibration {
            bias: -1.5,
            machine_generated: 0.75,
            deceptive: 0.0,
            prior_shift: -2.0,
        };
        let file = CalibrationFile {
            calibration: c,
            fitted_on: "test".into(),
            reproduce: "none".into(),
            metrics: [("auc".to_string(), serde_json::json!(0.9))].into(),
        };
        write_calibration(dir.path(), &file).unwrap();
        assert_eq!(read_calibration(dir.path()).unwrap(), c);
        let text = std::fs::read_to_string(dir.path().join(CALIBRATION)).unwrap();
        assert!(text.contains("\"auc\": 0.9"), "{text}");
    }
}
