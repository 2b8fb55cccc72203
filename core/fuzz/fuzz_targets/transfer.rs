//! Core's export lines and import reading (`transfer::parse_lines`,
//! `export_line`, `plan_import`: what both engines' `import_messages` and
//! `export_messages` call) on any UTF-8 text:
//!
//! - `parse_lines` never panics; every refusal is an import error, of a line
//!   the text has (or of the text as a whole, for its limits), with a
//!   SQLSTATE of a line's faults (22P02 not well formed, 54000 a limit);
//! - every line it accepts, exported again, reads back (`parse_lines`) as
//!   the same message, and that export is stable: exporting what was read
//!   back gives the same line;
//! - each such line is, byte for byte, the eight columns in their order with
//!   strings as serde_json writes them (escaped only where JSON requires),
//!   holds no control character, and reads in serde_json as an object of
//!   the eight columns holding the message's values;
//! - planning the accepted lines onto an empty store never panics, and
//!   either takes every line, in order, or is refused with a repeated id
//!   (23505) or a position or global position out of order (22023), naming
//!   a line the text has.

#![no_main]

use libfuzzer_sys::fuzz_target;
use message_store_core::transfer::{export_line, format_time, parse_lines, plan_import, Fault};
use message_store_core::Error;
use serde_json::Value;

/// jsonb text as serde_json reads it.
fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("jsonb text is JSON")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let count = if text.is_empty() {
        0
    } else {
        text.strip_suffix('\n').unwrap_or(text).split('\n').count()
    };
    let lines = match parse_lines(text) {
        Ok(lines) => lines,
        Err(error) => {
            let Error::InvalidImport { line, fault } = &error else {
                panic!("not an import error: {error:?}");
            };
            match line {
                Some(line) => {
                    assert!((1..=count).contains(line), "{error}");
                    assert!(error.to_string().starts_with(&format!("line {line}: ")));
                    assert!(!matches!(
                        fault,
                        Fault::TooManyLines { .. } | Fault::TooManyBytes { .. }
                    ));
                }
                None => assert!(matches!(
                    fault,
                    Fault::TooManyLines { .. } | Fault::TooManyBytes { .. }
                )),
            }
            assert!(matches!(error.sqlstate(), "22P02" | "54000"), "{error}");
            return;
        }
    };
    assert_eq!(lines.len(), count);
    for (index, line) in lines.iter().enumerate() {
        assert_eq!(line.line, index + 1);
        let message = &line.message;
        // A line's data is never SQL NULL, its metadata never jsonb null.
        assert!(message.data.is_some());
        assert_ne!(message.metadata.as_deref(), Some("null"));
        let exported = export_line(&message.row()).expect("a line's time is within the years");
        let again = parse_lines(&exported).expect("an exported line reads back");
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].message, *message, "{exported}");
        assert_eq!(again[0].uuid, line.uuid);
        assert_eq!(export_line(&again[0].message.row()).as_ref(), Ok(&exported));

        assert!(!exported.bytes().any(|b| b < 0x20), "{exported:?}");
        let value: Value = serde_json::from_str(&exported).expect("a line is JSON");
        let object = value.as_object().expect("a line is an object");
        assert_eq!(object.len(), 8);
        // The whole line, byte for byte: serde_json escapes a string just
        // where JSON requires it, as the line's format does (two-character
        // forms for `"`, `\\`, \b, \f, \n, \r and \t, `\u00xx` in lowercase
        // for the other control characters, everything else as it is).
        let quoted = |text: &str| serde_json::to_string(text).expect("a string serialises");
        let expected = format!(
            "{{\"id\":{},\"stream_name\":{},\"type\":{},\"position\":{},\"global_position\":{},\"data\":{},\"metadata\":{},\"time\":{}}}",
            quoted(&message.id),
            quoted(&message.stream_name),
            quoted(&message.type_),
            message.position,
            message.global_position,
            message.data.as_deref().unwrap(),
            message.metadata.as_deref().unwrap_or("null"),
            quoted(&format_time(message.time).unwrap()),
        );
        assert_eq!(exported, expected);
        let string = |key: &str| object[key].as_str().expect("a string").to_owned();
        assert_eq!(string("id"), message.id);
        assert_eq!(string("stream_name"), message.stream_name);
        assert_eq!(string("type"), message.type_);
        assert_eq!(Some(string("time")), format_time(message.time));
        assert_eq!(object["position"].as_i64(), Some(message.position));
        assert_eq!(
            object["global_position"].as_i64(),
            Some(message.global_position)
        );
        assert_eq!(object["data"], json(message.data.as_deref().unwrap()));
        assert_eq!(
            object["metadata"],
            json(message.metadata.as_deref().unwrap_or("null"))
        );
    }
    match plan_import(&lines, |_| None, |_| None, None) {
        Ok(plan) => {
            assert_eq!(plan.skipped, 0);
            assert_eq!(plan.rows.len(), lines.len());
            for (row, line) in plan.rows.iter().zip(&lines) {
                assert_eq!(row.line, line.line);
            }
        }
        Err(error) => {
            let Error::InvalidImport {
                line: Some(line),
                fault,
            } = &error
            else {
                panic!("not a line's error: {error:?}");
            };
            assert!((1..=count).contains(line));
            assert!(matches!(
                fault,
                Fault::RepeatedId { .. }
                    | Fault::PositionNotNext { .. }
                    | Fault::GlobalPositionNotAbove { .. }
            ));
            assert!(matches!(error.sqlstate(), "23505" | "22023"), "{error}");
        }
    }
});
