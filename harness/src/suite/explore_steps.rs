//! Steps the reproducers of `drdrill explore` need: switching on a test-only fault before the
//! disaster, so a saved `.feature` replays the same broken world as its YAML, and letting time
//! pass until a schedule takes its next backup.

use cucumber::when;

use super::DrillWorld;

#[when(expr = "the test-only fault {string} is switched on")]
async fn fault_switched_on(w: &mut DrillWorld, fault: String) {
    match fault.as_str() {
        "machineset-skips-adoption" => w.world_mut().set_fault_machineset_skips_adoption(true),
        other => panic!("unknown test-only fault {other:?}; known: machineset-skips-adoption"),
    }
}

/// Simulated time passes until Velero's schedule controller takes the schedule's next backup
/// (an `@every 24h` schedule: 24 hours after its last backup or its creation).
#[when(expr = "the schedule {string} takes its next backup")]
async fn schedule_takes_next_backup(w: &mut DrillWorld, schedule: String) {
    let name = crate::explore::runner::next_scheduled_backup(w.world(), &schedule)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    super::note(&format!("      the schedule {schedule} took {name}"));
}
