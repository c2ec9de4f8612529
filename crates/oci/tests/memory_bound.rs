//! A captured-file bomb: a small zstd layer holding the same captured path
//! many times over, each hundreds of MiB of zeros. Reading it keeps memory
//! under the documented bound (512 MiB peak for the whole process) and says
//! the capture limit was exceeded. Alone in its test binary, so the
//! process's peak is this test's.

use std::io::{Read as _, Write};

use oci::verify::sha256;
use oci::{Options, Source, Want, analyze};

fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_captured_file_bomb_stays_under_the_memory_bound() {
    const ENTRY: u64 = 200 << 20;
    const COPIES: usize = 6;
    // The tar is streamed through zstd: never held uncompressed.
    let mut enc = zstd::Encoder::new(Vec::new(), 3).unwrap();
    let mut hasher = HashingWriter::default();
    {
        let mut tee = Tee(&mut enc, &mut hasher);
        let mut b = tar::Builder::new(&mut tee);
        for _ in 0..COPIES {
            let mut h = tar::Header::new_gnu();
            h.set_size(ENTRY);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(
                &mut h,
                "var/lib/dpkg/status",
                std::io::repeat(0).take(ENTRY),
            )
            .unwrap();
        }
        b.finish().unwrap();
    }
    let blob = enc.finish().unwrap();
    assert!(blob.len() < 1 << 20, "{} bytes compressed", blob.len());
    let diff_id = hasher.digest();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("blobs/sha256")).unwrap();
    std::fs::write(d.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let put = |bytes: &[u8]| {
        let dg = sha256(bytes);
        std::fs::write(d.join("blobs/sha256").join(dg.encoded()), bytes).unwrap();
        dg
    };
    let ld = put(&blob);
    let config = serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]}});
    let cbytes = serde_json::to_vec(&config).unwrap();
    let cd = put(&cbytes);
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd.to_string(), "size": cbytes.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd", "digest": ld.to_string(), "size": blob.len()}]});
    let mbytes = serde_json::to_vec(&manifest).unwrap();
    let md = put(&mbytes);
    std::fs::write(
        d.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md.to_string(), "size": mbytes.len()}]})).unwrap(),
    )
    .unwrap();

    let source: Source = format!("oci:{}", d.display()).parse().unwrap();
    let want = Want {
        select: oci::Select::capture(&|p, _| p == "var/lib/dpkg/status"),
        key: "bomb",
    };
    let a = analyze(&source, &Options::default(), &want, &|_| {}).unwrap();
    let notes: Vec<&str> = a.layers[0]
        .notes
        .iter()
        .map(|n| n.reason.as_str())
        .collect();
    assert!(
        notes
            .iter()
            .any(|n| n.starts_with("capture limit exceeded")),
        "{notes:?}"
    );
    let peak_mib = peak_rss_kib() / 1024;
    assert!(peak_mib < 512, "peak RSS {peak_mib} MiB");
}

struct Tee<'a, A: Write, B: Write>(&'a mut A, &'a mut B);

impl<A: Write, B: Write> Write for Tee<'_, A, B> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_all(buf)?;
        self.1.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

#[derive(Default)]
struct HashingWriter(sha2::Sha256);

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        sha2::Digest::update(&mut self.0, buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl HashingWriter {
    fn digest(self) -> String {
        format!("sha256:{}", hex::encode(sha2::Digest::finalize(self.0)))
    }
}
