//! Steps only the reproducers of `drdrill explore` need: switching on a test-only fault before
//! the disaster, so a saved `.feature` replays the same broken world as its YAML.

use cucumber::when;

use super::DrillWorld;

#[when(expr = "the test-only fault {string} is switched on")]
async fn fault_switched_on(w: &mut DrillWorld, fault: String) {
    match fault.as_str() {
        "machineset-skips-adoption" => w.world_mut().set_fault_machineset_skips_adoption(true),
        other => panic!("unknown test-only fault {other:?}; known: machineset-skips-adoption"),
    }
}
