//! Fuzzes the layer reader on arbitrary blobs (gzip, zstd or plain tar,
//! sniffed): entries, whiteouts, links, captures under small limits; then
//! the squashed tree, link resolution and the catalogers over it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci::layer::{Limits, read_layer};

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_layer_bytes: 16 << 20,
        max_file_bytes: 1 << 20,
        max_captured_bytes: 4 << 20,
        max_entries: 20_000,
    };
    let Ok((rec, _diff_id)) = read_layer(data, "fuzz", &inventory::select(), &limits) else {
        return;
    };
    let tree = oci::tree::FileTree::from_layers([&rec, &rec]);
    for p in ["etc/os-release", "var/lib/dpkg/status", "usr/bin/x", "a/b/c/../d"] {
        let _ = tree.resolve(p);
        let _ = tree.read(p);
    }
    let a = oci::Analysis {
        image: safeimage_fuzz::analysis(&[], &[]).image,
        layers: vec![rec],
        tree,
        cached_layers: 0,
    };
    let _ = inventory::catalog(&a);
});
