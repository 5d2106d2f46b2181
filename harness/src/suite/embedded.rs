//! The suite built into the binary, so `drdrill drill` works from any directory: the feature
//! files of this checkout's `features/`, compiled in.

/// `(file name, text)` of every built-in feature.
pub const FEATURES: &[(&str, &str)] = &[
    (
        "tkg_full_restore.feature",
        include_str!("../../../features/tkg_full_restore.feature"),
    ),
    (
        "tkg_full_restore_minio_container.feature",
        include_str!("../../../features/tkg_full_restore_minio_container.feature"),
    ),
    (
        "tkg_full_restore_external_s3.feature",
        include_str!("../../../features/tkg_full_restore_external_s3.feature"),
    ),
    (
        "tkg_drift_stale_workers.feature",
        include_str!("../../../features/tkg_drift_stale_workers.feature"),
    ),
    (
        "tkg_drift_ghost_workers.feature",
        include_str!("../../../features/tkg_drift_ghost_workers.feature"),
    ),
    (
        "tkg_drift_control_plane_ghosts.feature",
        include_str!("../../../features/tkg_drift_control_plane_ghosts.feature"),
    ),
    (
        "tkg_scheduled_backups_ttl.feature",
        include_str!("../../../features/tkg_scheduled_backups_ttl.feature"),
    ),
    (
        "tkg_backup_after_scale.feature",
        include_str!("../../../features/tkg_backup_after_scale.feature"),
    ),
    (
        "tkg_upgrade_then_backup.feature",
        include_str!("../../../features/tkg_upgrade_then_backup.feature"),
    ),
    (
        "tkg_restore_latest_backup.feature",
        include_str!("../../../features/tkg_restore_latest_backup.feature"),
    ),
    (
        "tkg_pinniped_known_limitation.feature",
        include_str!("../../../features/tkg_pinniped_known_limitation.feature"),
    ),
    (
        "aks_day2_gating_and_a2_recovery.feature",
        include_str!("../../../features/aks_day2_gating_and_a2_recovery.feature"),
    ),
    (
        "aks_a1_new_site_cold_standby.feature",
        include_str!("../../../features/aks_a1_new_site_cold_standby.feature"),
    ),
    (
        "aks_a2_workloads_and_backup_contents.feature",
        include_str!("../../../features/aks_a2_workloads_and_backup_contents.feature"),
    ),
    (
        "tkg_other_disasters.feature",
        include_str!("../../../features/tkg_other_disasters.feature"),
    ),
    (
        "workload_volume_data.feature",
        include_str!("../../../features/workload_volume_data.feature"),
    ),
    (
        "velero_cli_version.feature",
        include_str!("../../../features/velero_cli_version.feature"),
    ),
];

/// Writes the built-in features to a new temporary folder (removed when dropped).
pub fn write_to_temp_dir() -> std::io::Result<tempfile::TempDir> {
    let dir = tempfile::Builder::new().prefix("drdrill-features-").tempdir()?;
    for (name, text) in FEATURES {
        std::fs::write(dir.path().join(name), text)?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    /// Every file of features/ is built in, so the binary's suite is the checkout's suite.
    #[test]
    fn every_feature_file_is_built_in() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("features");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .expect("features/")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".feature"))
            .collect();
        on_disk.sort();
        let mut built_in: Vec<String> = super::FEATURES.iter().map(|(n, _)| n.to_string()).collect();
        built_in.sort();
        assert_eq!(built_in, on_disk, "add new feature files to harness/src/suite/embedded.rs");
    }
}
