//! This crate's backend and scheduler against minebench's reference: the same hits, in the same
//! count, on mainnet header windows and on every thread count.

use custom_miner::{registry, Guided, MyMidstate};

#[test]
fn my_midstate_finds_exactly_the_reference_hits() {
    minebench::testing::cross_check(&MyMidstate);
}

#[test]
fn my_midstate_finds_the_mainnet_nonces() {
    minebench::testing::mainnet_windows(&MyMidstate);
}

#[test]
fn guided_covers_every_nonce_once_on_every_thread_count() {
    minebench::testing::cross_check_scheduler(&Guided, &[1, 2, 3, 5, 8]);
}

#[test]
fn the_registry_knows_both_by_name() {
    let r = registry();
    r.check().expect("names register cleanly");
    assert!(r.backend_names().contains(&"my-midstate"));
    assert!(r.scheduler_names().contains(&"guided"));
    let b = r.backend("my-midstate").expect("available");
    assert_eq!(b.name(), "my-midstate");
}
