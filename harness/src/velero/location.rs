//! `velero backup-location get`.

use std::io::Write;

use drdrill_apis::velero::BackupStorageLocation;
use kube::api::Api;

use super::args::GetArgs;
use super::backup::get_or_list;
use super::tables::location_table;
use super::{Ctx, VeleroCliError, print_encoded, validate_output};

/// `velero backup-location get [NAMES]`.
pub(crate) async fn get(ctx: &Ctx, a: &GetArgs, out: &mut (dyn Write + Send)) -> Result<(), VeleroCliError> {
    validate_output(&a.output)?;
    let locations: Api<BackupStorageLocation> = Api::namespaced(ctx.client.clone(), &ctx.namespace);
    let items = get_or_list(
        &locations,
        "backupstoragelocations.velero.io",
        &a.names,
        a.selector.as_deref(),
        &ctx.namespace,
    )
    .await?;
    if a.output == "table" {
        write!(out, "{}", location_table(&items))?;
        return Ok(());
    }
    print_encoded(&items, "BackupStorageLocationList", &a.output, out)
}
