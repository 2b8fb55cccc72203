//! Writes the category expressions the readers' statements repeat, taken
//! from the category index of `sql/sqlite_schema.sql`. SQLite uses an
//! expression index only for a query that repeats its expression, and the
//! released schema cannot change: it is the one place they are written.

use std::path::PathBuf;

// The same reading of the schema the extension checks databases with.
#[allow(dead_code)]
#[path = "src/shape.rs"]
mod shape;

fn main() {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    // This folder: the manifest's, or its parent's for the Rust library
    // package (rust/), which builds the same sources.
    let here = manifest
        .ancestors()
        .find(|dir| dir.join("src/shape.rs").is_file())
        .expect("src/shape.rs beside build.rs");
    let schema = here.join("../sql/sqlite_schema.sql");
    println!("cargo:rerun-if-changed={}", schema.display());
    println!(
        "cargo:rerun-if-changed={}",
        here.join("src/shape.rs").display()
    );
    let sql = std::fs::read_to_string(&schema)
        .unwrap_or_else(|e| panic!("reading {}: {e}", schema.display()));
    let category = match shape::category_expressions(&sql) {
        Ok(category) => category,
        Err(why) => {
            eprintln!(
                "error: sql/sqlite_schema.sql: {why}; the readers take their category expressions from that index"
            );
            std::process::exit(1);
        }
    };
    let generated = format!(
        "// Made by build.rs from sql/sqlite_schema.sql's index messages_category.\n\
         macro_rules! category_of_stream_name {{\n    () => {{\n        {:?}\n    }};\n}}\n\
         macro_rules! category_of_correlation {{\n    () => {{\n        {:?}\n    }};\n}}\n",
        category.stream_name, category.correlation
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("category.rs");
    std::fs::write(&out, generated).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
