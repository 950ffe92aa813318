//! Pass `file-agents`: for each datastore whose logs are files, an agent beside it that tails
//! them, keeping its read positions in file storage.

use crate::model::keywords::{ServiceKind, Signal};
use crate::plan::collector::{ComponentId, ComponentKind as K, Receiver, ReceiverSpec};
use crate::plan::draft::{role_id, service_id, Draft};
use crate::plan::edge::Protocol;
use crate::plan::log_format::LogFormat;
use crate::plan::node::RoleKind;
use crate::settings::{LogSource, Role};

/// The format of a datastore's log files: PostgreSQL writes the one otelplan asks for; the
/// others are read line by line, as their servers write them.
fn format(kind: ServiceKind) -> LogFormat {
    match kind {
        ServiceKind::Postgres => LogFormat::PostgresStderr,
        _ => LogFormat::Lines,
    }
}

/// Add a file agent per datastore with log files.
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    let valid = d.valid;
    for service in &valid.services {
        let Role::Datastore(ds) = &service.role else { continue };
        let Some(LogSource::Files { glob, .. }) = &ds.logs else { continue };
        let name = &service.name;
        let kind = RoleKind::FileAgent(name.clone());
        d.edge(&service_id(name), &role_id(&kind), Signal::Logs, Protocol::LogFiles, None);
        let mut role = d.new_role(kind)?;
        role.file_storage = true;
        let receiver = Receiver {
            id: ComponentId::named(K::FileLogReceiver, name),
            spec: ReceiverSpec::LogFiles { include: vec![glob.clone()], format: format(service.kind) },
            checkpoints: true,
        };
        d.datastore_pipeline(&mut role, Signal::Logs, name, receiver);
        d.add_role(role, false);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::model::keywords::TopologyId;
    use crate::plan::collector::ReceiverSpec;
    use crate::plan::log_format::LogFormat;
    use crate::plan::node::RoleKind;
    use crate::test_support::plan;

    #[test]
    fn postgres_files_are_parsed_in_the_format_otelplan_sets_and_others_read_as_lines() {
        let stack = "version: 1\nname: t\nbackends: { elasticsearch: { endpoint: \"http://es:9200\" } }\nservices:\n  db: { kind: postgres, endpoint: \"db:5432\", logs: { path: /var/log/postgresql/*.log } }\n  cache: { kind: redis, endpoint: \"cache:6379\", logs: { path: /var/log/redis/*.log } }\n";
        let p = plan(stack, TopologyId::D);
        let format = |name: &str| {
            let role = p.roles.iter().find(|r| r.role == RoleKind::FileAgent(name.to_string())).unwrap();
            match &role.receivers[0].spec {
                ReceiverSpec::LogFiles { format, .. } => *format,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(format("db"), LogFormat::PostgresStderr);
        assert_eq!(format("cache"), LogFormat::Lines);
    }
}
