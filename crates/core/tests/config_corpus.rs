//! The bad-config corpus: each file under `bad_configs/` and the exact message a user sees for it
//! (snapshots under `snapshots/`). Every problem in a file is reported, with its line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::path::Path;

use switchboard_core::config::{Config, LoadOptions};

#[test]
fn each_bad_config_gets_its_exact_message() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("bad_configs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 7, "the corpus is missing: {}", dir.display());
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        // The origin is the bare file name so snapshots do not depend on the checkout's path.
        let err = match Config::from_toml(&text, &format!("{name}.toml"), LoadOptions::default()) {
            Ok(_) => panic!("`{name}.toml` should be refused"),
            Err(err) => err.to_string(),
        };
        assert!(
            !err.contains("THIS-LOOKS-LIKE-A-REAL-KEY"),
            "a literal key was echoed"
        );
        insta::assert_snapshot!(name, err);
    }
}

#[test]
fn a_missing_file_names_the_path() {
    let err = Config::load(
        Path::new("/nonexistent/switchboard.toml"),
        LoadOptions::default(),
    )
    .err()
    .unwrap();
    assert_eq!(
        err.to_string(),
        "cannot read config `/nonexistent/switchboard.toml`: No such file or directory (os error 2)"
    );
}
