//! Pass `intakes`: an intake (APM Server) forwards every signal it receives to its store.

use crate::plan::draft::{backend_id, Draft};
use crate::plan::edge::Protocol;

/// Add the intakes' edges to their stores.
#[expect(clippy::unnecessary_wraps, reason = "every pass has the signature of `Pass`")]
pub(super) fn run(d: &mut Draft<'_>) -> anyhow::Result<()> {
    for (intake, store) in d.topology.intakes.clone() {
        let from = backend_id(intake);
        let port = d.sinks.get(&store).map(|s| s.addr.port);
        for s in d.incoming(&from) {
            d.edge(&from, &backend_id(store), s, Protocol::ElasticsearchHttp, port);
        }
    }
    Ok(())
}
