//! The crate graph keeps the layers apart: each crate depends only on the layers
//! below it (DESIGN §3, §9). Cargo forbids cycles; this forbids upward edges.

use std::collections::BTreeSet;
use std::path::Path;

/// The klog crates each core crate may depend on.
const ALLOWED: &[(&str, &[&str])] = &[
    ("protocol", &[]),
    ("storage", &["klog-protocol"]),
    ("client", &["klog-protocol"]),
    ("broker", &["klog-protocol", "klog-storage"]),
    ("klog", &["klog-protocol", "klog-storage", "klog-client", "klog-broker"]),
];

/// The `klog-*` crates named in the `[dependencies]` table of `manifest`.
fn klog_dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    let mut in_dependencies = false;
    let mut found = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        let name = line.split(['=', '.', ' ']).next().unwrap_or_default();
        if in_dependencies && name.starts_with("klog") {
            found.insert(name.to_string());
        }
    }
    found
}

#[test]
fn every_crate_depends_only_on_layers_below_it() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for (dir, allowed) in ALLOWED {
        let deps = klog_dependencies(&core.join(dir).join("Cargo.toml"));
        let allowed: BTreeSet<String> = allowed.iter().map(|s| s.to_string()).collect();
        let upward: Vec<_> = deps.difference(&allowed).collect();
        assert!(upward.is_empty(), "core/{dir} depends on {upward:?}, above its layer");
    }
    // The client in particular never reaches the broker or the log.
    let client = klog_dependencies(&core.join("client/Cargo.toml"));
    assert!(!client.contains("klog-broker") && !client.contains("klog-storage"));
}
