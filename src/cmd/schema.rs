//! `otelplan schema`: print the stack file's JSON Schema (the one committed in `schemas/`).

use crate::cmd::Exit;

/// The JSON Schema of the stack format, pretty-printed with a trailing newline.
pub(crate) fn schema_json() -> anyhow::Result<String> {
    let schema =
        schemars::generate::SchemaSettings::draft07().into_generator().into_root_schema_for::<crate::model::Stack>();
    Ok(format!("{}\n", serde_json::to_string_pretty(&schema)?))
}

/// Run `schema`.
pub(crate) fn run() -> anyhow::Result<Exit> {
    crate::report::out(&schema_json()?)?;
    Ok(0)
}
