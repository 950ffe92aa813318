//! Pass `file-agents`: for each datastore whose logs are files, an agent beside it that tails
//! them, keeping its read positions in file storage.

use crate::model::keywords::Signal;
use crate::plan::collector::{ComponentId, ComponentKind as K, Receiver, ReceiverSpec};
use crate::plan::draft::{role_id, service_id, Draft};
use crate::plan::edge::Protocol;
use crate::plan::node::RoleKind;
use crate::settings::{LogSource, Role};

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
            spec: ReceiverSpec::LogFiles { include: vec![glob.clone()] },
            checkpoints: true,
        };
        d.datastore_pipeline(&mut role, Signal::Logs, name, receiver);
        d.add_role(role, false);
    }
    Ok(())
}
